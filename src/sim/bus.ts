import { EventEmitter } from 'node:events';
import type { SimulatedBank } from './bank';
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

  constructor(private readonly bus: SimBus) {
    super();
  }

  open(): Promise<void> {
    this.wire = new SimWire(this.bus.shared, (bytes) => {
      this.bus.received.push({ at: Date.now(), text: Buffer.from(bytes).toString('latin1') });
      this.emit('data', Buffer.from(bytes));
    });
    return Promise.resolve();
  }

  write(data: string): Promise<void> {
    this.bus.written.push({ at: Date.now(), text: data.replace(/\r$/, '') });
    this.wire?.receive(Buffer.from(data, 'latin1'));
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.wire?.close();
    this.wire = undefined;
    return Promise.resolve();
  }
}

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

  constructor(
    readonly bank: SimulatedBank,
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
   * The request whose answer finished arriving at `at`: answers go out one after another, so the
   * frame a link completed at that moment is that one.
   */
  answeredAt(at: number): string | undefined {
    return this.answers.find((a) => a.at === at)?.request;
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
