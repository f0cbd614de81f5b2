import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { randomInt } from 'node:crypto';
import { encodeFrame, parseFrame, type Frame } from '../protocol';
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

/**
 * Replaces the letters and digits of serial numbers in identity replies by others, the same way
 * throughout a file (one serial stays one serial, two stay two), and frames the reply again.
 */
export class SerialScrambler {
  private readonly shift = Array.from({ length: 32 }, () => randomInt(1, 26));
  private lastRequest: Frame | undefined;

  /** The text to record for this event. */
  apply(event: WireEvent): string | undefined {
    if (!event.text) return event.text;
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

  private scramble(byte: number, i: number): number {
    const k = this.shift[i % this.shift.length] ?? 1;
    if (byte >= 0x30 && byte <= 0x39) return 0x30 + ((byte - 0x30 + k) % 10);
    if (byte >= 0x41 && byte <= 0x5a) return 0x41 + ((byte - 0x41 + k) % 26);
    if (byte >= 0x61 && byte <= 0x7a) return 0x61 + ((byte - 0x61 + k) % 26);
    return byte;
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
