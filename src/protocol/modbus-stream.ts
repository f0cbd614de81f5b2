import { READ_HOLDING, WRITE_MULTIPLE, crc16Modbus, type ModbusRequest } from './modbus';

export type ModbusStreamEvent =
  /** A frame whose CRC holds: unit and PDU (the link matches it to its request). */
  | { readonly type: 'frame'; readonly bytes: Uint8Array; readonly unit: number; readonly pdu: Uint8Array }
  /** Our own request coming back (an RS485 adapter without echo suppression). */
  | { readonly type: 'echo'; readonly bytes: Uint8Array }
  /** Bytes skipped while hunting for a frame (noise, or a damaged frame given up on). */
  | { readonly type: 'garbage'; readonly bytes: number };

/** The longest RTU frame: address, function, byte count, 250 data bytes... at most 256 bytes in all. */
const MAX_RTU_BYTES = 256;

/**
 * Bytes of the frame starting at `at` as far as its header tells, or undefined when the header is no
 * reply this package reads (0 when more bytes are needed to know).
 */
function frameLength(buf: Uint8Array, at: number, end: number): number | undefined {
  if (end - at < 2) return 0;
  const unit = buf[at] as number;
  const fn = buf[at + 1] as number;
  if (unit < 1 || unit > 247) return undefined;
  if (fn === (READ_HOLDING | 0x80) || fn === (WRITE_MULTIPLE | 0x80)) return 5;
  if (fn === WRITE_MULTIPLE) return 8;
  if (fn !== READ_HOLDING) return undefined;
  if (end - at < 3) return 0;
  const bytes = buf[at + 2] as number;
  return bytes % 2 === 0 && bytes > 0 && bytes <= 250 ? 5 + bytes : undefined;
}

/**
 * Turns a byte stream into RTU frames. RTU has no start marker: a frame is found by its header
 * (address 1–247, a function this package uses, a byte count that fits) and proven by its CRC. A
 * candidate whose CRC fails is given up one byte at a time, so a real frame behind noise is still
 * found (resync); `damaged` counts candidates for the expected request that failed, so a timeout
 * can say the reply came damaged.
 *
 * Each byte is looked at a bounded number of times whatever the chunking; the buffer never holds
 * more than one frame's worth.
 */
export class RtuStreamFramer {
  private readonly buf = new Uint8Array(2 * MAX_RTU_BYTES);
  private length = 0;
  private expected: ModbusRequest | undefined;
  private echo: Uint8Array | undefined;
  /** Candidates for the expected request whose CRC failed since `expect`. */
  damaged = 0;

  /** The request now on the bus: its echo is reported as such, and its reply's length is known early. */
  expect(request: ModbusRequest | undefined, sent?: Uint8Array): void {
    this.expected = request;
    this.echo = sent;
    this.damaged = 0;
  }

  /** Forget a frame in progress. */
  reset(): void {
    this.length = 0;
  }

  get bufferedBytes(): number {
    return this.length;
  }

  /** Bytes still to come before the frame being received is complete; undefined when none is. */
  get remainingBytes(): number | undefined {
    const expected = this.expected;
    if (!expected || this.length < 3 || this.buf[0] !== expected.unit || this.buf[1] !== expected.function)
      return undefined;
    const total = frameLength(this.buf, 0, this.length);
    return total ? Math.max(0, total - this.length) : undefined;
  }

  push(chunk: Uint8Array): ModbusStreamEvent[] {
    const events: ModbusStreamEvent[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      const room = this.buf.length - this.length;
      const take = Math.min(room, chunk.length - offset);
      this.buf.set(chunk.subarray(offset, offset + take), this.length);
      this.length += take;
      offset += take;
      this.scan(events);
    }
    return events;
  }

  private scan(events: ModbusStreamEvent[]): void {
    let at = 0;
    let skipped = 0;
    const end = this.length;
    while (at < end) {
      const echo = this.echo;
      if (echo && this.matchesPrefix(echo, at, end)) {
        if (end - at < echo.length) break;
        events.push({ type: 'echo', bytes: this.buf.slice(at, at + echo.length) });
        at += echo.length;
        continue;
      }
      const total = frameLength(this.buf, at, end);
      if (total === 0) break;
      if (total !== undefined) {
        if (end - at < total) break;
        const crc = crc16Modbus(this.buf.subarray(at, at + total), total - 2);
        if (this.buf[at + total - 2] === (crc & 0xff) && this.buf[at + total - 1] === crc >> 8) {
          if (skipped) events.push({ type: 'garbage', bytes: skipped });
          skipped = 0;
          const bytes = this.buf.slice(at, at + total);
          events.push({ type: 'frame', bytes, unit: bytes[0] as number, pdu: bytes.subarray(1, total - 2) });
          at += total;
          continue;
        }
        const expected = this.expected;
        if (expected && this.buf[at] === expected.unit && ((this.buf[at + 1] as number) & 0x7f) === expected.function)
          this.damaged++;
      }
      skipped++;
      at++;
    }
    if (skipped) events.push({ type: 'garbage', bytes: skipped });
    this.buf.copyWithin(0, at, end);
    this.length = end - at;
  }

  private matchesPrefix(bytes: Uint8Array, at: number, end: number): boolean {
    const n = Math.min(bytes.length, end - at);
    for (let i = 0; i < n; i++) if (this.buf[at + i] !== bytes[i]) return false;
    return true;
  }
}

/** MBAP header bytes: transaction, protocol, length, unit. */
const MBAP_HEADER = 7;

export type MbapStreamEvent =
  | {
      readonly type: 'frame';
      readonly bytes: Uint8Array;
      readonly transaction: number;
      readonly unit: number;
      readonly pdu: Uint8Array;
    }
  | { readonly type: 'garbage'; readonly bytes: number };

/**
 * Turns a Modbus-TCP byte stream into MBAP frames (the header says each frame's length; TCP brings
 * the bytes intact). A header that cannot be one (protocol not 0, a length no PDU has) drops a byte
 * and looks again.
 */
export class MbapStreamFramer {
  private buf = new Uint8Array(0);

  reset(): void {
    this.buf = new Uint8Array(0);
  }

  get bufferedBytes(): number {
    return this.buf.length;
  }

  push(chunk: Uint8Array): MbapStreamEvent[] {
    const joined = new Uint8Array(this.buf.length + chunk.length);
    joined.set(this.buf);
    joined.set(chunk, this.buf.length);
    const events: MbapStreamEvent[] = [];
    let at = 0;
    let skipped = 0;
    while (joined.length - at >= MBAP_HEADER) {
      const protocol = ((joined[at + 2] as number) << 8) | (joined[at + 3] as number);
      const length = ((joined[at + 4] as number) << 8) | (joined[at + 5] as number);
      if (protocol !== 0 || length < 2 || length > MAX_RTU_BYTES) {
        skipped++;
        at++;
        continue;
      }
      if (joined.length - at < 6 + length) break;
      if (skipped) events.push({ type: 'garbage', bytes: skipped });
      skipped = 0;
      const bytes = joined.slice(at, at + 6 + length);
      events.push({
        type: 'frame',
        bytes,
        transaction: ((bytes[0] as number) << 8) | (bytes[1] as number),
        unit: bytes[6] as number,
        pdu: bytes.subarray(MBAP_HEADER),
      });
      at += 6 + length;
    }
    if (skipped) events.push({ type: 'garbage', bytes: skipped });
    this.buf = joined.slice(at);
    return events;
  }
}
