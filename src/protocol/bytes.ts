import { FrameError } from './errors';

export type IntType = 'u8' | 'u16' | 's16' | 'u24' | 'u32';

const WIDTH: Readonly<Record<IntType, number>> = { u8: 1, u16: 2, s16: 2, u24: 3, u32: 4 };
const HEX_DIGITS = '0123456789ABCDEF';

export function intWidth(type: IntType): number {
  return WIDTH[type];
}

export function intFits(type: IntType, value: number): boolean {
  if (!Number.isInteger(value)) return false;
  if (type === 's16') return value >= -0x8000 && value <= 0x7fff;
  return value >= 0 && value < 2 ** (8 * WIDTH[type]);
}

/** Uppercase hex, two digits per byte: the only form a BMS is sent (docs/pitfalls.md#p-03). */
export function bytesToHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += HEX_DIGITS.charAt(b >> 4) + HEX_DIGITS.charAt(b & 0xf);
  return out;
}

/** Value of each hex digit (either case) by UTF-16 code unit, -1 for anything else. */
export const HEX_VALUE: Int8Array = (() => {
  const table = new Int8Array(0x10000).fill(-1);
  for (let i = 0; i < 16; i++) {
    table[HEX_DIGITS.charCodeAt(i)] = i;
    table[HEX_DIGITS.toLowerCase().charCodeAt(i)] = i;
  }
  return table;
})();

export function hexToBytes(hex: string, start = 0, end = hex.length): Uint8Array {
  if ((end - start) % 2 !== 0) throw new FrameError('format', 'INFO is not an even number of hex digits');
  const out = new Uint8Array((end - start) / 2);
  for (let i = 0, pos = start; i < out.length; i++, pos += 2) {
    const hi = HEX_VALUE[hex.charCodeAt(pos)] as number;
    const lo = HEX_VALUE[hex.charCodeAt(pos + 1)] as number;
    if (hi < 0 || lo < 0) throw new FrameError('format', 'frame contains characters that are not hex digits');
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/** Big-endian cursor over a byte array; running past the end is a `length` error. */
export class ByteReader {
  private pos: number;
  private readonly end: number;

  /** Reads `bytes[start, end)` without copying. */
  constructor(
    private readonly bytes: Uint8Array,
    start = 0,
    end = bytes.length,
  ) {
    this.pos = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  get offset(): number {
    return this.pos;
  }

  int(type: IntType): number {
    const width = WIDTH[type];
    const pos = this.pos;
    if (this.end - pos < width) {
      throw new FrameError('length', `INFO ends ${width - (this.end - pos)} byte(s) early at byte ${pos}`);
    }
    const b = this.bytes;
    this.pos = pos + width;
    switch (type) {
      case 'u8':
        return b[pos] ?? 0;
      case 'u16':
        return ((b[pos] ?? 0) << 8) | (b[pos + 1] ?? 0);
      case 's16':
        return (((b[pos] ?? 0) << 24) | ((b[pos + 1] ?? 0) << 16)) >> 16;
      case 'u24':
        return ((b[pos] ?? 0) << 16) | ((b[pos + 1] ?? 0) << 8) | (b[pos + 2] ?? 0);
      case 'u32':
        return (b[pos] ?? 0) * 0x1000000 + (((b[pos + 1] ?? 0) << 16) | ((b[pos + 2] ?? 0) << 8) | (b[pos + 3] ?? 0));
    }
  }

  /** Big-endian 16-bit values, the bulk of every 0x42 block (cell voltages, temperatures). */
  u16Array(count: number, signed: boolean): number[] {
    const pos = this.pos;
    if (this.end - pos < 2 * count) {
      throw new FrameError('length', `INFO ends ${2 * count - (this.end - pos)} byte(s) early at byte ${pos}`);
    }
    const b = this.bytes;
    const out = new Array<number>(count);
    for (let i = 0, p = pos; i < count; i++, p += 2) {
      const v = ((b[p] as number) << 8) | (b[p + 1] as number);
      out[i] = signed && v >= 0x8000 ? v - 0x10000 : v;
    }
    this.pos = pos + 2 * count;
    return out;
  }

  take(count: number): Uint8Array {
    if (this.remaining < count) {
      throw new FrameError('length', `INFO ends ${count - this.remaining} byte(s) early at byte ${this.pos}`);
    }
    const out = this.bytes.subarray(this.pos, this.pos + count);
    this.pos += count;
    return out;
  }
}

export class ByteWriter {
  private readonly out: number[] = [];

  int(type: IntType, value: number, what: string): this {
    if (!intFits(type, value)) {
      throw new FrameError('range', `${what} = ${value} does not fit a ${type} field`);
    }
    const v = value < 0 ? value + 0x10000 : value;
    for (let shift = 8 * (WIDTH[type] - 1); shift >= 0; shift -= 8) this.out.push(Math.floor(v / 2 ** shift) % 256);
    return this;
  }

  bytes(data: Uint8Array): this {
    for (const b of data) this.out.push(b);
    return this;
  }

  toBytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}
