import { FrameError } from './errors';
import type { CanFrame } from './pylon-can';

/**
 * slcan (LAWICEL ASCII), the serial protocol of common USB-CAN adapters (CANable, CANtact, USBtin):
 * every command and every received frame is a line ending in CR; an adapter answers a command with
 * CR (done) or BEL (refused) (docs/inverter.md#slcan).
 */

/** `Sn` codes by bit rate. */
const BITRATES: Readonly<Record<number, number>> = {
  10_000: 0,
  20_000: 1,
  50_000: 2,
  100_000: 3,
  125_000: 4,
  250_000: 5,
  500_000: 6,
  800_000: 7,
  1_000_000: 8,
};

export const SLCAN_BITRATES: readonly number[] = Object.keys(BITRATES).map(Number);

const HEX = '0123456789ABCDEF';
const hex = (value: number, digits: number): string => {
  let out = '';
  for (let i = digits - 1; i >= 0; i--) out += HEX.charAt((value >> (4 * i)) & 0xf);
  return out;
};

/** `S6\r` for 500 kbit/s. */
export function slcanBitrate(bitrate: number): string {
  const code = BITRATES[bitrate];
  if (code === undefined)
    throw new FrameError('range', `slcan has no code for ${String(bitrate)} bit/s (${SLCAN_BITRATES.join(', ')})`);
  return `S${String(code)}\r`;
}

export const SLCAN_OPEN = 'O\r';
export const SLCAN_CLOSE = 'C\r';
export const SLCAN_STATUS = 'F\r';

/** `t3518…\r`: 11-bit id as 3 hex digits (8 for a 29-bit `T` frame), the length, two hex digits per byte. */
export function encodeSlcanFrame(frame: CanFrame): string {
  const { id, data } = frame;
  if (data.length > 8)
    throw new FrameError('range', `a classic CAN frame carries at most 8 bytes, not ${String(data.length)}`);
  if (frame.extended ? id < 0 || id > 0x1fffffff : id < 0 || id > 0x7ff)
    throw new FrameError('range', `CAN id ${id.toString(16)} does not fit ${frame.extended ? '29' : '11'} bits`);
  let out = frame.extended ? `T${hex(id, 8)}` : `t${hex(id, 3)}`;
  out += String(data.length);
  for (const b of data) out += hex(b, 2);
  return `${out}\r`;
}

/** Bits of the `F` status reply (USBtin's table). */
export interface SlcanStatus {
  readonly raw: number;
  readonly errorWarning: boolean;
  readonly overrun: boolean;
  readonly errorPassive: boolean;
  readonly busError: boolean;
}

export type SlcanEvent =
  | { readonly kind: 'frame'; readonly frame: CanFrame; readonly timestamp?: number }
  /** A command done (a bare CR, or `z` / `Z` after a sent frame on LAWICEL firmwares). */
  | { readonly kind: 'ok' }
  /** A command refused (BEL): also how a frame nobody acknowledged comes back on some firmwares. */
  | { readonly kind: 'error' }
  | { readonly kind: 'status'; readonly status: SlcanStatus }
  /** Anything else (version replies, firmware-specific lines): skipped. */
  | { readonly kind: 'other'; readonly text: string };

const HEX_VALUE = (c: number): number =>
  c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 0x37 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;

function parseHex(text: string, start: number, digits: number): number {
  let value = 0;
  for (let i = start; i < start + digits; i++) {
    const d = HEX_VALUE(text.charCodeAt(i));
    if (d < 0) return -1;
    value = value * 16 + d;
  }
  return value;
}

/** A received `t`/`T`/`r`/`R` line, or null when it is not one. */
function parseFrameLine(line: string): { frame: CanFrame; timestamp?: number } | null {
  const kind = line.charAt(0);
  const extended = kind === 'T' || kind === 'R';
  const remote = kind === 'r' || kind === 'R';
  if (!extended && !remote && kind !== 't') return null;
  const idDigits = extended ? 8 : 3;
  const id = parseHex(line, 1, idDigits);
  const dlc = parseHex(line, 1 + idDigits, 1);
  if (id < 0 || dlc < 0 || dlc > 8) return null;
  const dataDigits = remote ? 0 : dlc * 2;
  const rest = line.length - (2 + idDigits) - dataDigits;
  if (rest !== 0 && rest !== 4) return null;
  const data = new Uint8Array(remote ? 0 : dlc);
  for (let i = 0; i < data.length; i++) {
    const b = parseHex(line, 2 + idDigits + 2 * i, 2);
    if (b < 0) return null;
    data[i] = b;
  }
  const frame: CanFrame = extended ? { id, data, extended: true } : { id, data };
  if (rest === 4) {
    const timestamp = parseHex(line, line.length - 4, 4);
    return timestamp < 0 ? null : { frame, timestamp };
  }
  return { frame };
}

/** Longest line an adapter sends (a 29-bit frame with 8 bytes and a timestamp is 30). */
const MAX_LINE = 64;

/**
 * Splits what an slcan adapter sends into events, in any chunking. A line longer than any the
 * protocol has is dropped as noise.
 */
export class SlcanParser {
  private line = '';
  /** In a line too long to be one: skipped up to its end. */
  private discarding = false;

  push(chunk: string): SlcanEvent[] {
    const events: SlcanEvent[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (c === 0x0d || c === 0x0a) {
        if (this.discarding) this.discarding = false;
        else if (c === 0x0d || this.line !== '') events.push(this.lineEvent(this.line));
        this.line = '';
      } else if (c === 0x07) {
        this.line = '';
        events.push({ kind: 'error' });
      } else if (this.line.length < MAX_LINE) {
        this.line += chunk.charAt(i);
      } else {
        this.line = '';
        this.discarding = true;
      }
    }
    return events;
  }

  reset(): void {
    this.line = '';
    this.discarding = false;
  }

  private lineEvent(line: string): SlcanEvent {
    if (line === '' || line === 'z' || line === 'Z') return { kind: 'ok' };
    const frame = parseFrameLine(line);
    if (frame) return { kind: 'frame', ...frame };
    if (line.length === 3 && line.charAt(0) === 'F') {
      const raw = parseHex(line, 1, 2);
      if (raw >= 0)
        return {
          kind: 'status',
          status: {
            raw,
            errorWarning: (raw & 0x04) !== 0,
            overrun: (raw & 0x08) !== 0,
            errorPassive: (raw & 0x20) !== 0,
            busError: (raw & 0x80) !== 0,
          },
        };
    }
    return { kind: 'other', text: line };
  }
}
