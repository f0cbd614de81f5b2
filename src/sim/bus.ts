import { EventEmitter } from 'node:events';
import type { SimResponder } from './bank';
import { Random } from './random';
import { NO_FAULTS, SimWire, emptyWireStats, type WireFaults, type WireScript, type WireShared } from './wire';

/**
 * A simulated bank behind an in-process transport: the same wire as the
 * simulator's server (in-order answers, BMS latency, replies paced at the baud rate in pieces,
 * faults), with no socket in between. Every byte sent is kept, and which request each reply answered.
 */
export class SimTransport extends EventEmitter {
  readonly description = 'simulated bank (in process)';
  private wire: SimWire | undefined;
  /** A read hold (`pauseReading`): bytes gather in the "kernel" meanwhile, as in a tty's buffer. */
  private heldUntil = 0;
  private holdTimer: NodeJS.Timeout | undefined;
  private held: Buffer[] = [];
  private heldBytes = 0;

  constructor(private readonly bus: SimBus) {
    super();
  }

  open(): Promise<void> {
    this.wire = new SimWire(this.bus.shared, (bytes) => {
      this.arrive(Buffer.from(bytes));
    });
    return Promise.resolve();
  }

  /** Like a serial port whose reads wait: what arrives meanwhile is handed over in one read after. */
  pauseReading(ms: number): void {
    const until = Date.now() + ms;
    if (until <= this.heldUntil) return;
    this.heldUntil = until;
    clearTimeout(this.holdTimer);
    this.holdTimer = setTimeout(() => {
      this.release();
    }, ms);
  }

  private arrive(bytes: Buffer): void {
    if (Date.now() >= this.heldUntil) {
      this.deliver(bytes);
      return;
    }
    // A tty's buffer is 4 KB: with nobody reading, what does not fit is lost, as on a real port.
    const room = KERNEL_BUFFER_BYTES - this.heldBytes;
    if (bytes.length > room) this.bus.overrunBytes += bytes.length - Math.max(0, room);
    if (room <= 0) return;
    const kept = bytes.subarray(0, room);
    this.held.push(kept);
    this.heldBytes += kept.length;
  }

  private release(): void {
    this.holdTimer = undefined;
    this.heldUntil = 0;
    if (!this.held.length) return;
    const bytes = Buffer.concat(this.held);
    this.held = [];
    this.heldBytes = 0;
    this.deliver(bytes);
  }

  private deliver(bytes: Buffer): void {
    this.bus.received.push({ at: Date.now(), text: bytes.toString('latin1') });
    this.emit('data', bytes);
  }

  write(data: string): Promise<void> {
    this.bus.written.push({ at: Date.now(), text: data.replace(/\r$/, '') });
    this.wire?.receive(Buffer.from(data, 'latin1'));
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.wire?.close();
    this.wire = undefined;
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    this.heldUntil = 0;
    this.held = [];
    this.heldBytes = 0;
    return Promise.resolve();
  }
}

/** What a Linux tty keeps for a reader that is not reading (N_TTY_BUF_SIZE). */
const KERNEL_BUFFER_BYTES = 4096;

export interface SimBusOptions {
  readonly baudRate?: number;
  readonly latencyMs?: number;
  readonly faults?: Partial<WireFaults>;
  readonly script?: WireScript;
  readonly seed?: number;
}

/**
 * A port with a simulated bank on it, in process (tests on fake time, benchmarks): hand `factory` to a
 * link as its transport factory.
 */
export class SimBus {
  readonly shared: WireShared;
  readonly written: { at: number; text: string }[] = [];
  /** Pieces of replies as they reached the link. */
  readonly received: { at: number; text: string }[] = [];
  /** Every reply the bank sent (as sent, CR and faults included), with the request it answered and when its last byte went out. */
  readonly answers: { request: string; reply: string; at: number }[] = [];
  /** Bytes lost because a read hold let more gather than the kernel's buffer keeps. */
  overrunBytes = 0;

  constructor(
    readonly bank: SimResponder,
    options: SimBusOptions = {},
  ) {
    this.shared = {
      bank,
      faults: { ...NO_FAULTS, ...options.faults },
      stats: emptyWireStats(),
      random: new Random(options.seed ?? 7),
      baudRate: options.baudRate ?? 9600,
      latencyMs: options.latencyMs ?? 30,
      paceWire: true,
      script: options.script,
      silentUntil: 0,
      onAnswer: (request, reply) => {
        this.answers.push({ request, reply, at: Date.now() });
      },
    };
  }

  /**
   * The request whose answer finished arriving at `at` or up to `withinMs` before (a link holding
   * its reads notices a frame's end a little after it): answers go out one after another, so the
   * frame a link completed then is that one. Undefined when none or more than one ended in that
   * window: then the moment does not say which.
   */
  answeredAt(at: number, withinMs = 0): string | undefined {
    const ended = this.answers.filter((a) => a.at <= at && a.at >= at - withinMs);
    return ended.length === 1 ? ended[0]?.request : undefined;
  }

  /** A transport for `LinkOptions.transportFactory`: each connection gets its own wire to the bank. */
  readonly factory = (): SimTransport => new SimTransport(this);

  set script(script: WireScript | undefined) {
    this.shared.script = script;
  }

  get stats(): WireShared['stats'] {
    return this.shared.stats;
  }

  get faults(): WireFaults {
    return this.shared.faults;
  }

  silence(ms: number): void {
    this.shared.silentUntil = Date.now() + ms;
  }

  /** Request texts written so far, in order. */
  sent(): string[] {
    return this.written.map((w) => w.text);
  }
}
