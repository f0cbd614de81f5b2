import { FrameError } from './errors';
import { EOI, MAX_FRAME_CHARS, SOI, parseFrame, type Frame } from './frame';

export type StreamEvent =
  | { readonly type: 'frame'; readonly text: string; readonly frame: Frame }
  /** Our own request coming back (RS485 half-duplex or loopback, PITFALLS.md P-26). */
  | { readonly type: 'echo'; readonly text: string }
  /** A complete candidate between `~` and CR (or cut off by the next `~`) that is not a valid frame. */
  | { readonly type: 'error'; readonly text: string; readonly error: FrameError }
  /** Bytes outside any frame that were skipped while hunting for `~`. */
  | { readonly type: 'garbage'; readonly bytes: number };

export interface StreamParserOptions {
  /** Longest frame accepted before the parser gives up on it and resyncs (characters, without CR). */
  readonly maxFrameChars?: number;
}

/**
 * Turns a byte stream into frames: hunts for `~`, collects until CR, and resyncs on the next `~`
 * whenever a frame is damaged, cut off or too long. Since `~` never occurs inside a frame, a second
 * `~` before the CR always marks a new frame.
 */
export class FrameStreamParser {
  private buffer = '';
  private echo: string | undefined;
  private readonly maxFrameChars: number;

  constructor(options: StreamParserOptions = {}) {
    this.maxFrameChars = Math.min(options.maxFrameChars ?? MAX_FRAME_CHARS, MAX_FRAME_CHARS);
  }

  /** Frames equal to this text are reported as `echo` until another request is set. */
  expectEcho(requestText: string | undefined): void {
    this.echo = requestText?.replace(/\r$/, '').toUpperCase();
  }

  reset(): void {
    this.buffer = '';
  }

  get bufferedChars(): number {
    return this.buffer.length;
  }

  push(chunk: Uint8Array | string): StreamEvent[] {
    this.buffer += typeof chunk === 'string' ? chunk : latin1(chunk);
    const events: StreamEvent[] = [];
    let garbage = 0;
    for (;;) {
      const start = this.buffer.indexOf(SOI);
      if (start < 0) {
        garbage += countGarbage(this.buffer);
        this.buffer = '';
        break;
      }
      if (start > 0) {
        garbage += countGarbage(this.buffer.slice(0, start));
        this.buffer = this.buffer.slice(start);
      }
      const end = this.buffer.indexOf(EOI);
      const nextStart = this.buffer.indexOf(SOI, 1);
      if (nextStart >= 0 && (end < 0 || nextStart < end)) {
        const text = this.buffer.slice(0, nextStart);
        events.push({ type: 'error', text, error: new FrameError('format', `frame cut off after ${text.length} characters by a new "~"`) });
        this.buffer = this.buffer.slice(nextStart);
        continue;
      }
      if (end < 0) {
        if (this.buffer.length > this.maxFrameChars) {
          const text = this.buffer;
          events.push({ type: 'error', text: text.slice(0, 40), error: new FrameError('length', `no end of frame within ${this.maxFrameChars} characters`) });
          this.buffer = '';
        }
        break;
      }
      const text = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 1);
      events.push(this.classify(text));
    }
    if (garbage > 0) events.push({ type: 'garbage', bytes: garbage });
    return events;
  }

  private classify(text: string): StreamEvent {
    if (this.echo !== undefined && text.toUpperCase() === this.echo) return { type: 'echo', text };
    if (text.length > this.maxFrameChars) {
      return { type: 'error', text: text.slice(0, 40), error: new FrameError('length', `frame of ${text.length} characters exceeds the limit of ${this.maxFrameChars}`) };
    }
    try {
      return { type: 'frame', text, frame: parseFrame(text) };
    } catch (err) {
      if (err instanceof FrameError) return { type: 'error', text, error: err };
      throw err;
    }
  }
}

function latin1(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 8192) out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return out;
}

/** Line endings between frames (CRLF gateways) are not noise worth reporting. */
function countGarbage(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x0a && c !== 0x0d) n++;
  }
  return n;
}
