import { EventEmitter } from 'node:events';
import type { PackInput } from '../bank';
import { rs485Battery } from '../bank/inverter-view';
import { FrameStreamParser } from '../protocol';
import { answerPylonRs485, type Rs485AnswerOptions, type Rs485Battery } from '../protocol/pylon-rs485';
import { errorMessage } from '../errors';
import { Reconnector, openWired } from '../link/reconnect';
import { createTransport, type Transport, type TransportOptions } from '../link/transport';
import { InverterAnnouncer, type AnnouncerOptions, type Announcement } from './announcer';

export interface Rs485ResponderOptions extends AnnouncerOptions, Partial<Rs485AnswerOptions> {
  /** The inverter's RS485 port: a serial device or `tcp://host:port` (a serial-to-TCP gateway). */
  readonly port: string;
  /** 9600 unless the inverter is set otherwise. */
  readonly baudRate?: number;
  /** 0x51 / 0x60 device name, up to 10 ASCII characters. */
  readonly deviceName?: string;
  /** How often the announced state is decided (the charge control steps), ms. */
  readonly periodMs?: number;
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
  readonly transportFactory?: (port: string, options: TransportOptions) => Transport;
  readonly clock?: () => number;
}

export type ResponderPhase = 'connecting' | 'listening' | 'disconnected' | 'closed';

/** One request of the inverter and what it got. */
export interface Rs485Request {
  readonly at: number;
  readonly command: string;
  readonly address: number;
  /** The reply sent; null: the bank stayed silent (another address, or nothing to announce). */
  readonly reply: string | null;
}

export interface ResponderStats {
  requests: number;
  answered: number;
  /** Requests for the bank that it left unanswered because its data is too old. */
  silent: number;
  /** Frames that did not parse. */
  damaged: number;
  reconnects: number;
}

/**
 * Answers an inverter's Pylontech RS485 polls as one battery (docs/inverter.md#pylontech-rs485):
 * the announced state is decided once a period (the same policy as CAN: fresh packs only, charging
 * stopped while no pack is fresh, silence after `silentAfterMs`), requests are answered from it at
 * once. The port reopens by itself when it goes.
 */
export class Rs485Responder extends EventEmitter {
  readonly stats: ResponderStats = { requests: 0, answered: 0, silent: 0, damaged: 0, reconnects: 0 };
  private readonly announcer: InverterAnnouncer;
  private readonly parser = new FrameStreamParser();
  private readonly now: () => number;
  private transport: Transport | undefined;
  private phaseValue: ResponderPhase = 'closed';
  private lastError: string | undefined;
  private battery: Rs485Battery | null = null;
  private announcement: Announcement | null = null;
  private periodTimer: NodeJS.Timeout | undefined;
  private readonly reconnector: Reconnector;

  constructor(private readonly options: Rs485ResponderOptions) {
    super();
    this.now = options.clock ?? Date.now;
    this.announcer = new InverterAnnouncer(options);
    this.reconnector = new Reconnector(options.reconnectMinMs ?? 1000, options.reconnectMaxMs ?? 30_000, () => {
      this.stats.reconnects++;
      this.connect();
    });
  }

  get phase(): ResponderPhase {
    return this.phaseValue;
  }

  get error(): string | undefined {
    return this.lastError;
  }

  /** What the bank announces now (null before the first period). */
  get current(): Announcement | null {
    return this.announcement;
  }

  start(): void {
    if (this.phaseValue !== 'closed') return;
    this.decide();
    this.periodTimer = setInterval(() => {
      this.decide();
    }, this.options.periodMs ?? 1000);
    this.connect();
  }

  async stop(): Promise<void> {
    clearInterval(this.periodTimer);
    this.reconnector.cancel();
    this.periodTimer = undefined;
    this.setPhase('closed');
    const transport = this.transport;
    this.transport = undefined;
    if (!transport) return;
    transport.removeAllListeners();
    await transport.close();
  }

  feed(packs: readonly PackInput[], at = this.now()): void {
    this.announcer.feed(packs, at);
  }

  /** Decide what to announce now (also run once a period). */
  decide(now = this.now()): Announcement {
    const a = this.announcer.assess(now);
    this.announcement = a;
    this.battery =
      a.values && a.bank
        ? rs485Battery(a.bank, a.values, {
            ...this.options.identity,
            deviceName: this.options.deviceName ?? 'LFP-BANK',
          })
        : null;
    this.emit('announcement', a);
    return a;
  }

  private setPhase(phase: ResponderPhase, error?: string): void {
    this.phaseValue = phase;
    this.lastError = phase === 'listening' ? undefined : (error ?? this.lastError);
    this.emit('state', { phase, ...(this.lastError !== undefined ? { error: this.lastError } : {}) });
  }

  private connect(): void {
    this.setPhase('connecting');
    const make = this.options.transportFactory ?? createTransport;
    const transport = make(this.options.port, { baudRate: this.options.baudRate ?? 9600 });
    this.transport = transport;
    this.parser.reset();
    void this.open(transport);
  }

  private async open(transport: Transport): Promise<void> {
    const opened = await openWired(
      transport,
      (data) => {
        this.onData(transport, data);
      },
      (reason) => {
        this.lost(transport, reason);
      },
    );
    if (!opened || this.transport !== transport) return;
    this.reconnector.succeeded();
    this.setPhase('listening');
  }

  private onData(transport: Transport, data: Buffer): void {
    for (const event of this.parser.push(data)) {
      if (event.type === 'error') this.stats.damaged++;
      if (event.type !== 'frame') continue;
      const exchange = answerPylonRs485(`${event.text}\r`, this.battery, {
        address: this.options.address ?? 0x02,
        systemCurrentUnit: this.options.systemCurrentUnit ?? 0.01,
      });
      if (!exchange) continue;
      this.stats.requests++;
      if (exchange.reply === null) this.stats.silent++;
      else {
        this.stats.answered++;
        transport.write(`${exchange.reply}\r`).catch((err: unknown) => {
          this.lost(transport, errorMessage(err));
        });
      }
      const request: Rs485Request = {
        at: this.now(),
        command: exchange.command,
        address: exchange.request.address,
        reply: exchange.reply,
      };
      this.emit('request', request);
    }
  }

  private lost(transport: Transport, reason: string): void {
    if (this.transport !== transport) return;
    this.transport = undefined;
    transport.removeAllListeners();
    void transport.close().catch(() => undefined);
    if (this.phaseValue === 'closed') return;
    this.setPhase('disconnected', reason);
    this.reconnector.schedule();
  }
}
