import { FrameStreamParser, MbapStreamFramer, bytesHex, crc16Modbus } from '../protocol';
import type { SimResponder } from './bank';
import type { Random } from './random';
import { TimerSet } from './timers';

/** Faults on the wire, switchable at any time. Rates are probabilities per reply. */
export interface WireFaults {
  /** One character of the reply replaced (always caught by the checksum). */
  corruptRate: number;
  /** The reply never sent. */
  dropRate: number;
  /** Extra delay before every reply. */
  delayMs: number;
  /**
   * Share of replies that come `lateMs` later than usual: past a client's timeout they land in
   * the window of its next request, and the BMS answers what came after them later too.
   */
  lateRate: number;
  lateMs: number;
  /** Random bytes before the reply. */
  garbageRate: number;
  /** The request is sent back first, as an RS485 adapter without echo suppression does. */
  echo: boolean;
}

export const NO_FAULTS: Readonly<WireFaults> = {
  corruptRate: 0,
  dropRate: 0,
  delayMs: 0,
  lateRate: 0,
  lateMs: 0,
  garbageRate: 0,
  echo: false,
};

/** What to do with one reply, decided by a test instead of by chance. */
export interface ReplyPlan {
  readonly drop?: boolean;
  readonly corrupt?: boolean;
  readonly garbage?: boolean;
  /** On top of the BMS latency. */
  readonly extraDelayMs?: number;
  /** The reply stops after this many characters (a pack resetting, a cable pulled mid-reply). */
  readonly cutAfter?: number;
}

/** Called for the n-th request (from 1) the bank receives; a plan overrides the random faults for it. */
export type WireScript = (n: number, request: string) => ReplyPlan | undefined;

/** Statistics of what the simulator did on the wire. */
export interface SimWireStats {
  requests: number;
  replies: number;
  dropped: number;
  corrupted: number;
  late: number;
  /** Requests that arrived during a silence burst and were ignored. */
  silenced: number;
  /** Bytes received while the bank was sending, on a half-duplex bus (both sides garbled). */
  collisions: number;
  echoed: number;
  garbageBursts: number;
  bytesOut: number;
}

export function emptyWireStats(): SimWireStats {
  return {
    requests: 0,
    replies: 0,
    dropped: 0,
    corrupted: 0,
    late: 0,
    silenced: 0,
    collisions: 0,
    echoed: 0,
    garbageBursts: 0,
    bytesOut: 0,
  };
}

/** What the wires of one simulated bank share: its faults, statistics and silence. */
export interface WireShared {
  readonly bank: SimResponder;
  readonly faults: WireFaults;
  readonly stats: SimWireStats;
  readonly random: Random;
  readonly baudRate: number;
  readonly latencyMs: number;
  /** Send bytes at the pace of the baud rate (10 bits per byte), in pieces as a UART driver would. */
  readonly paceWire: boolean;
  script: WireScript | undefined;
  /** Told of every reply the bank sent once its last byte is out, with the request it answers (as sent, faults and all). */
  onAnswer?: (request: string, reply: string) => void;
  /** Until when (ms since the epoch) the bank ignores everything: a silence burst. */
  silentUntil: number;
  /**
   * An RS485 pair carries one sender at a time: a request sent while the bank is still sending
   * garbles the rest of its reply and never reaches it whole (an RS232 console is full duplex).
   */
  halfDuplex?: boolean;
  /**
   * On a half-duplex line, how long a pack keeps driving the pair after the last byte of its reply
   * (RS485 transceivers release the line late): a request sent in that time is lost, as one sent
   * during the reply. 0: the line is free at once.
   */
  turnaroundMs?: number;
}

/**
 * The bank's side of one connection: requests are taken in the order they arrive and answered one
 * at a time, each after its own wire time and the BMS latency (plus faults), the reply paced at the
 * baud rate. A late reply delays every reply after it, as a BMS that buffers its UART does.
 */
export class SimWire {
  private readonly parser: { push(data: Uint8Array): string[]; reset(): void };
  /** Modbus frames carry no CR: replies and echoes go out as they are. */
  private readonly terminator: string;
  private readonly queue: string[] = [];
  private readonly timers = new TimerSet();
  private busy = false;
  private closed = false;
  /** Sending a reply now; set to true when a collision garbled the rest of it. */
  private sending = false;
  private garbled = false;

  constructor(
    private readonly shared: WireShared,
    private readonly out: (bytes: Buffer) => void,
  ) {
    const framing = shared.bank.framing ?? 'ascii';
    this.parser = framing === 'rtu' ? rtuRequests() : framing === 'mbap' ? mbapRequests() : asciiRequests();
    this.terminator = framing === 'ascii' ? '\r' : '';
  }

  /** Milliseconds `bytes` take on the wire (8N1 = 10 bits each). */
  wireMs(bytes: number): number {
    return (bytes * 10 * 1000) / this.shared.baudRate;
  }

  receive(data: Uint8Array): void {
    if (this.sending && this.shared.halfDuplex) {
      this.shared.stats.collisions++;
      this.garbled = true;
      this.parser.reset();
      return;
    }
    this.queue.push(...this.parser.push(data));
    this.next();
  }

  close(): void {
    this.closed = true;
    this.timers.clear();
    this.queue.length = 0;
  }

  private next(): void {
    if (this.busy || this.closed) return;
    const text = this.queue.shift();
    if (text === undefined) return;
    this.busy = true;
    this.exchange(text, () => {
      this.busy = false;
      this.next();
    });
  }

  /** One request: its own wire time, the BMS latency and faults, then the paced reply. */
  private exchange(text: string, done: () => void): void {
    const { stats, faults, random } = this.shared;
    stats.requests++;
    const plan = this.shared.script?.(stats.requests, text) ?? {};
    const arrival = this.shared.paceWire ? this.wireMs(text.length + 1) : 0;
    if (faults.echo) {
      stats.echoed++;
      this.send(this.terminator ? `${text}${this.terminator}` : hexToLatin1(text), undefined, false);
    }
    if (Date.now() < this.shared.silentUntil) {
      stats.silenced++;
      this.later(done, arrival);
      return;
    }
    const late = plan.extraDelayMs === undefined && random.chance(faults.lateRate);
    if (late || (plan.extraDelayMs ?? 0) > 0) stats.late++;
    const delay = arrival + this.shared.latencyMs + faults.delayMs + (plan.extraDelayMs ?? (late ? faults.lateMs : 0));
    this.later(() => {
      if (this.closed) return;
      const { reply } = this.shared.bank.handle(text);
      const drop = plan.drop ?? random.chance(faults.dropRate);
      if (reply === undefined || drop) {
        if (reply !== undefined) stats.dropped++;
        done();
        return;
      }
      let out = `${reply}${this.terminator}`;
      if (plan.corrupt ?? random.chance(faults.corruptRate)) {
        stats.corrupted++;
        out = corrupt(out, random);
      }
      if (plan.garbage ?? random.chance(faults.garbageRate)) {
        stats.garbageBursts++;
        out = garbage(random) + out;
      }
      if (plan.cutAfter !== undefined) out = out.slice(0, plan.cutAfter);
      stats.replies++;
      this.send(out, () => {
        this.shared.onAnswer?.(text, out);
        done();
      });
    }, delay);
  }

  /**
   * Write at the baud rate: each piece leaves when its last byte would have left the UART. An echo
   * comes from the host's own adapter, not the bank: it does not make the bank a sender.
   */
  private send(text: string, done?: () => void, fromBank = true): void {
    const bytes = Buffer.from(text, 'latin1');
    this.shared.stats.bytesOut += bytes.length;
    if (!this.shared.paceWire) {
      this.out(bytes);
      done?.();
      return;
    }
    const piece = Math.max(1, Math.floor(10 / this.wireMs(1)));
    const start = Date.now();
    if (fromBank) {
      this.sending = true;
      this.garbled = false;
    }
    const step = (offset: number): void => {
      if (this.closed) return;
      const end = Math.min(bytes.length, offset + piece);
      // After a collision the rest of the reply arrives as noise.
      this.out(fromBank && this.garbled ? Buffer.alloc(end - offset, 0x55) : bytes.subarray(offset, end));
      if (end >= bytes.length) {
        const turnaround = this.shared.halfDuplex ? (this.shared.turnaroundMs ?? 0) : 0;
        if (fromBank && turnaround > 0)
          this.later(() => {
            this.sending = false;
          }, turnaround);
        else if (fromBank) this.sending = false;
        done?.();
        return;
      }
      this.later(
        () => {
          step(end);
        },
        start + this.wireMs(end + Math.min(piece, bytes.length - end)) - Date.now(),
      );
    };
    this.later(
      () => {
        step(0);
      },
      start + this.wireMs(Math.min(piece, bytes.length)) - Date.now(),
    );
  }

  private later(fn: () => void, ms: number): void {
    this.timers.later(fn, ms);
  }
}

/** Replace one character between `~` and CR with another hex digit: a bit error the checksum must catch. */
function corrupt(frame: string, random: Random): string {
  const at = random.int(1, frame.length - 2);
  const original = frame.charAt(at);
  const choices = '0123456789ABCDEF';
  let replacement = original;
  while (replacement === original) replacement = choices.charAt(random.int(0, choices.length - 1));
  return frame.slice(0, at) + replacement + frame.slice(at + 1);
}

/** Line noise between frames: neither a start-of-frame nor a CR. */
function garbage(random: Random): string {
  let out = '';
  const length = random.int(1, 24);
  for (let i = 0; i < length; i++) {
    let c = random.int(0, 255);
    if (c === 0x7e || c === 0x0d) c = 0x55;
    out += String.fromCharCode(c);
  }
  return out;
}

/** ASCII requests: every frame, and damaged ones too (the bank stays silent to those, as a real BMS). */
function asciiRequests(): { push(data: Uint8Array): string[]; reset(): void } {
  const parser = new FrameStreamParser();
  return {
    push: (data) =>
      parser.push(data).flatMap((event) => (event.type === 'frame' || event.type === 'error' ? [event.text] : [])),
    reset: () => {
      parser.reset();
    },
  };
}

/**
 * RTU requests as hex: a read is 8 bytes, a write 9 + its byte count, any other function 8 (enough
 * for the pack to refuse it); the CRC decides. Bytes that start no valid request are dropped, as a
 * pack ignores noise.
 */
function rtuRequests(): { push(data: Uint8Array): string[]; reset(): void } {
  let buf = new Uint8Array(0);
  return {
    push(data) {
      const joined = new Uint8Array(buf.length + data.length);
      joined.set(buf);
      joined.set(data, buf.length);
      const out: string[] = [];
      let at = 0;
      while (joined.length - at >= 8) {
        const fn = joined[at + 1] as number;
        const length = fn === 0x10 ? 9 + (joined[at + 6] as number) : 8;
        if (joined.length - at < length) break;
        const crc = crc16Modbus(joined.subarray(at, at + length), length - 2);
        if (joined[at + length - 2] === (crc & 0xff) && joined[at + length - 1] === crc >> 8) {
          out.push(bytesHex(joined.subarray(at, at + length)));
          at += length;
        } else at++;
      }
      buf = joined.slice(at);
      return out;
    },
    reset() {
      buf = new Uint8Array(0);
    },
  };
}

function mbapRequests(): { push(data: Uint8Array): string[]; reset(): void } {
  const framer = new MbapStreamFramer();
  return {
    push: (data) => framer.push(data).flatMap((e) => (e.type === 'frame' ? [bytesHex(e.bytes)] : [])),
    reset: () => {
      framer.reset();
    },
  };
}

function hexToLatin1(hex: string): string {
  return String.fromCharCode(...hex.split(' ').map((b) => parseInt(b, 16)));
}
