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

/** Uppercase hex, two digits per byte: the only form a BMS is sent (PITFALLS.md P-03). */
export function bytesToHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += HEX_DIGITS.charAt(b >> 4) + HEX_DIGITS.charAt(b & 0xf);
  return out;
}

export function hexToBytes(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9A-Fa-f]*$/.test(hex)) {
    throw new FrameError('format', 'INFO is not an even number of hex digits');
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Big-endian cursor over a byte array; running past the end is a `length` error. */
export class ByteReader {
  private pos = 0;
  constructor(private readonly bytes: Uint8Array) {}

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  get offset(): number {
    return this.pos;
  }

  int(type: IntType): number {
    const width = WIDTH[type];
    if (this.remaining < width) {
      throw new FrameError('length', `INFO ends ${width - this.remaining} byte(s) early at byte ${this.pos}`);
    }
    let value = 0;
    for (let i = 0; i < width; i++) value = value * 256 + (this.bytes[this.pos + i] ?? 0);
    this.pos += width;
    return type === 's16' && value >= 0x8000 ? value - 0x10000 : value;
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
    const width = WIDTH[type];
    let v = value < 0 ? value + 0x10000 : value;
    const bytes: number[] = [];
    for (let i = 0; i < width; i++) {
      bytes.unshift(v % 256);
      v = Math.floor(v / 256);
    }
    this.out.push(...bytes);
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
