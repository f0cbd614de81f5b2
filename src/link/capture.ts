import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { randomInt } from 'node:crypto';
import {
  READ_HOLDING,
  bytesHex,
  crc16Modbus,
  decodeRequestPdu,
  decodeRtuRequest,
  encodeFrame,
  parseFrame,
  type Frame,
  type ModbusRequest,
} from '../protocol';
import type { WireEvent } from './trace';

/** First line of a capture file: what was captured, where and how. */
export interface CaptureHeader {
  readonly capture: 1;
  readonly port: string;
  readonly baudRate?: number;
  readonly dialect?: string;
  readonly started: string;
  /** Serial numbers in identity replies were scrambled (consistently within the file). */
  readonly anonymised: boolean;
  readonly tool: string;
}

/** One wire event per line after the header, with its time as ISO text. */
export type CaptureLine = Omit<WireEvent, 'at'> & { readonly t: string };

/** A wire event as a capture line, with the text to record (scrambled or as heard). */
export function captureLine(event: WireEvent, text: string | undefined): CaptureLine {
  const { at, ...rest } = event;
  return { t: new Date(at).toISOString(), ...rest, ...(text !== undefined ? { text } : {}) };
}

/** CID2 of the requests whose replies carry serial numbers: PACE 0xC2, Pylontech 0x93. */
const SERIAL_REQUESTS = new Set([0xc2, 0x93]);

/** PACE Modbus registers holding serial numbers (the BMS and the pack serial). */
const SERIAL_REGISTERS = { first: 160, last: 179 } as const;

/**
 * Replaces the letters and digits of serial numbers in identity replies by others, the same way
 * throughout a file (one serial stays one serial, two stay two), and frames the reply again.
 */
export class SerialScrambler {
  private readonly shift = Array.from({ length: 32 }, () => randomInt(1, 26));
  private lastRequest: Frame | undefined;
  private lastModbus: { readonly request: ModbusRequest; readonly mbap: boolean } | undefined;

  /** The text to record for this event. */
  apply(event: WireEvent): string | undefined {
    if (!event.text) return event.text;
    // Modbus frames are recorded as hex bytes; ASCII frames start with `~`.
    if (/^[0-9A-F]{2}( [0-9A-F]{2})+$/.test(event.text)) return this.applyModbus(event, event.text);
    let frame: Frame;
    try {
      frame = parseFrame(event.text);
    } catch {
      return event.text;
    }
    if (event.dir === 'tx') {
      this.lastRequest = frame;
      return event.text;
    }
    if (event.kind !== 'reply' || !this.lastRequest || !SERIAL_REQUESTS.has(this.lastRequest.cid2)) return event.text;
    const info = Uint8Array.from(frame.info, (byte, i) => this.scramble(byte, i));
    return encodeFrame({ ...frame, info });
  }

  /** A Modbus read reply covering registers 160–179: their characters scrambled, the CRC made good again. */
  private applyModbus(event: WireEvent, text: string): string {
    const bytes = Uint8Array.from(text.split(' ').map((b) => parseInt(b, 16)));
    if (event.dir === 'tx') {
      this.lastModbus = modbusRequestOf(bytes);
      return text;
    }
    const asked = this.lastModbus;
    if (event.kind !== 'reply' || !asked || asked.request.function !== READ_HOLDING) return text;
    const { start, count } = asked.request;
    const data = asked.mbap ? 9 : 3;
    if (bytes.length < data + 2 * count || (bytes[data - 2] as number) !== READ_HOLDING) return text;
    const out = bytes.slice();
    for (let r = Math.max(start, SERIAL_REGISTERS.first); r <= Math.min(start + count - 1, SERIAL_REGISTERS.last); r++)
      for (const half of [0, 1]) {
        const at = data + 2 * (r - start) + half;
        out[at] = this.scramble(out[at] as number, 2 * (r - SERIAL_REGISTERS.first) + half);
      }
    if (!asked.mbap) {
      const crc = crc16Modbus(out, out.length - 2);
      out[out.length - 2] = crc & 0xff;
      out[out.length - 1] = crc >> 8;
    }
    return bytesHex(out);
  }

  private scramble(byte: number, i: number): number {
    const k = this.shift[i % this.shift.length] ?? 1;
    if (byte >= 0x30 && byte <= 0x39) return 0x30 + ((byte - 0x30 + k) % 10);
    if (byte >= 0x41 && byte <= 0x5a) return 0x41 + ((byte - 0x41 + k) % 26);
    if (byte >= 0x61 && byte <= 0x7a) return 0x61 + ((byte - 0x61 + k) % 26);
    return byte;
  }
}

/** The request of a Modbus frame: RTU when its CRC holds, else an MBAP-framed one. */
function modbusRequestOf(bytes: Uint8Array): { request: ModbusRequest; mbap: boolean } | undefined {
  try {
    return { request: decodeRtuRequest(bytes), mbap: false };
  } catch {
    try {
      if (bytes[2] !== 0 || bytes[3] !== 0) return undefined;
      return { request: decodeRequestPdu(bytes[6] ?? 0, bytes.subarray(7)), mbap: true };
    } catch {
      return undefined;
    }
  }
}

/**
 * Records wire events as JSON lines: a header, then one line per frame in either direction with
 * its time. Written as they come (append), so a capture survives a crash but for the last lines.
 */
export class CaptureWriter {
  private readonly stream: WriteStream;
  private readonly scrambler: SerialScrambler | undefined;
  private lines = 0;

  constructor(
    readonly file: string,
    header: Omit<CaptureHeader, 'capture' | 'started'>,
  ) {
    mkdirSync(dirname(file), { recursive: true });
    this.stream = createWriteStream(file, { flags: 'a' });
    this.scrambler = header.anonymised ? new SerialScrambler() : undefined;
    this.stream.write(`${JSON.stringify({ capture: 1, ...header, started: new Date().toISOString() })}\n`);
  }

  get count(): number {
    return this.lines;
  }

  record(event: WireEvent): void {
    const text = this.scrambler ? this.scrambler.apply(event) : event.text;
    this.lines++;
    this.stream.write(`${JSON.stringify(captureLine(event, text))}\n`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.stream.end(resolve);
    });
  }
}

/** A capture file's lines; throws with the line number on a line that is not one. */
export function parseCapture(content: string): { header: CaptureHeader | null; lines: CaptureLine[] } {
  let header: CaptureHeader | null = null;
  const lines: CaptureLine[] = [];
  content.split('\n').forEach((raw, i) => {
    if (!raw.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      throw new Error(`line ${String(i + 1)} is not JSON`);
    }
    if (typeof value !== 'object' || value === null) throw new Error(`line ${String(i + 1)} is not a capture line`);
    const v = value as Record<string, unknown>;
    if (v.capture === 1) {
      header = v as unknown as CaptureHeader;
      return;
    }
    if (
      (v.dir !== 'tx' && v.dir !== 'rx' && v.dir !== 'none') ||
      typeof v.kind !== 'string' ||
      (v.text !== undefined && typeof v.text !== 'string')
    ) {
      throw new Error(`line ${String(i + 1)} is not a capture line (dir, kind, text)`);
    }
    lines.push(v as unknown as CaptureLine);
  });
  return { header, lines };
}
