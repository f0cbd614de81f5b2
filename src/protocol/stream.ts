import { FrameError } from './errors';
import { HEX_VALUE } from './bytes';
import { MAX_FRAME_CHARS, parseFrame, type Frame } from './frame';

export type StreamEvent =
  | { readonly type: 'frame'; readonly text: string; readonly frame: Frame }
  /** Our own request coming back (RS485 half-duplex or loopback, docs/pitfalls.md#p-26). */
  | { readonly type: 'echo'; readonly text: string }
  /** A complete candidate between `~` and CR (or cut off by the next `~`) that is not a valid frame. */
  | { readonly type: 'error'; readonly text: string; readonly error: FrameError }
  /** Bytes outside any frame that were skipped while hunting for `~`. */
  | { readonly type: 'garbage'; readonly bytes: number };

export interface StreamParserOptions {
  /** Longest frame accepted before the parser gives up on it and resyncs (characters, without CR). */
  readonly maxFrameChars?: number;
}

const SOI_BYTE = 0x7e;
const CR = 0x0d;
const LF = 0x0a;
/** `~` + 12 header characters + 4 checksum characters: anything shorter cut off by a `~` is noise. */
const MIN_FRAME_CHARS = 17;
/** The LENGTH field: characters 9–12 after `~` (its first digit is LCHKSUM). */
const LENGTH_START = 9;
const LENGTH_END = 13;

/**
 * Turns a byte stream into frames: hunts for `~`, collects until CR, and resyncs on the next `~`
 * whenever a frame is damaged, cut off or too long. Since `~` never occurs inside a frame, a second
 * `~` before the CR always marks a new frame.
 *
 * Each byte is looked at once, whatever the chunking (a USB adapter at 9600 Bd delivers a reply in
 * pieces of a few bytes): the frame text is built once, when its CR arrives.
 */
export class FrameStreamParser {
  private readonly maxFrameChars: number;
  /** Characters of the frame being received, from its `~`. */
  private readonly frame: Uint8Array;
  private length = 0;
  /** Inside a frame (after `~`, before CR); false while hunting, and after giving up on a long one. */
  private inFrame = false;
  /** After giving up on a frame that is too long: its remaining bytes are not counted as noise. */
  private skipping = false;
  private echo: string | undefined;

  constructor(options: StreamParserOptions = {}) {
    this.maxFrameChars = Math.min(options.maxFrameChars ?? MAX_FRAME_CHARS, MAX_FRAME_CHARS);
    this.frame = new Uint8Array(this.maxFrameChars);
  }

  /** Frames equal to this text are reported as `echo` until another request is set. */
  expectEcho(requestText: string | undefined): void {
    this.echo = requestText?.replace(/\r$/, '').toUpperCase();
  }

  /** Forget a frame in progress. */
  reset(): void {
    this.length = 0;
    this.inFrame = false;
    this.skipping = false;
  }

  /** Characters of a frame received so far without its CR (0 between frames). */
  get bufferedChars(): number {
    return this.length;
  }

  /**
   * Characters still to come before the frame being received is complete (with its CR), once its
   * LENGTH field is in; undefined between frames or before that.
   */
  get remainingChars(): number | undefined {
    if (!this.inFrame || this.length < LENGTH_END) return undefined;
    let length = 0;
    for (let i = LENGTH_START + 1; i < LENGTH_END; i++) {
      const digit = HEX_VALUE[this.frame[i] as number] ?? -1;
      if (digit < 0) return undefined;
      length = length * 16 + digit;
    }
    // `~` + 12 header characters + LENID INFO characters + 4 checksum characters + CR.
    return Math.max(0, 1 + 12 + (length & 0xfff) + 4 + 1 - this.length);
  }

  push(chunk: Uint8Array | string): StreamEvent[] {
    const events: StreamEvent[] = [];
    let garbage = 0;
    const n = chunk.length;
    const text = typeof chunk === 'string';
    for (let i = 0; i < n; i++) {
      const b = text ? chunk.charCodeAt(i) & 0xff : (chunk[i] as number);
      if (b === SOI_BYTE) {
        if (this.length >= MIN_FRAME_CHARS) {
          const cut = this.text();
          events.push({
            type: 'error',
            text: cut,
            error: new FrameError('format', `frame cut off after ${cut.length} characters by a new "~"`),
          });
        } else garbage += this.length;
        this.frame[0] = SOI_BYTE;
        this.length = 1;
        this.inFrame = true;
        this.skipping = false;
      } else if (!this.inFrame) {
        // Line endings between frames (CRLF gateways) are not noise worth reporting.
        if (b !== CR && b !== LF && !this.skipping) garbage++;
      } else if (b === CR) {
        events.push(this.classify(this.text()));
        this.reset();
      } else if (this.length >= this.maxFrameChars) {
        events.push({
          type: 'error',
          text: this.text().slice(0, 40),
          error: new FrameError('length', `no end of frame within ${this.maxFrameChars} characters`),
        });
        // Everything up to the next `~` belongs to the frame given up on.
        this.reset();
        this.skipping = true;
      } else {
        this.frame[this.length++] = b;
      }
    }
    if (garbage > 0) events.push({ type: 'garbage', bytes: garbage });
    return events;
  }

  private text(): string {
    let out = '';
    // `apply` takes the bytes as an array-like; spreading them would walk an iterator per byte.
    for (let i = 0; i < this.length; i += 4096)
      out += String.fromCharCode.apply(
        null,
        this.frame.subarray(i, Math.min(this.length, i + 4096)) as unknown as number[],
      );
    return out;
  }

  private classify(text: string): StreamEvent {
    if (this.echo !== undefined && text.length === this.echo.length && text.toUpperCase() === this.echo)
      return { type: 'echo', text };
    try {
      return { type: 'frame', text, frame: parseFrame(text) };
    } catch (err) {
      if (err instanceof FrameError) return { type: 'error', text, error: err };
      throw err;
    }
  }
}
