import { EventEmitter } from 'node:events';
import type { CanFrame } from '../protocol/pylon-can';
import {
  SLCAN_CLOSE,
  SLCAN_OPEN,
  SlcanParser,
  encodeSlcanFrame,
  slcanBitrate,
  type SlcanEvent,
} from '../protocol/slcan';
import { LinkError, errorMessage } from './errors';
import { Reconnector, openWired } from './reconnect';
import { createTransport, type Transport, type TransportOptions } from './transport';

export interface SlcanBusOptions {
  /** Serial device of the adapter (`/dev/ttyACM0`), or `tcp://host:port` for a serial-to-TCP bridge. */
  readonly port: string;
  /** CAN bit rate; Pylon LV CAN is 500 kbit/s. */
  readonly bitrate?: number;
  /** How long the adapter has to answer a set-up command. */
  readonly commandTimeoutMs?: number;
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
  readonly transportFactory?: (port: string, options: TransportOptions) => Transport;
}

export type SlcanBusPhase = 'connecting' | 'configuring' | 'open' | 'disconnected' | 'closed';

export interface SlcanBusState {
  readonly phase: SlcanBusPhase;
  /** Why the bus is not open, when it is not. */
  readonly error?: string;
}

export interface SlcanBusStats {
  sent: number;
  received: number;
  /** Commands or frames the adapter answered with BEL (no one acknowledging on the bus shows up so). */
  refused: number;
  reconnects: number;
}

const DEFAULTS = { bitrate: 500_000, commandTimeoutMs: 1000, reconnectMinMs: 1000, reconnectMaxMs: 30_000 };

/**
 * A CAN bus through an slcan USB adapter (docs/inverter.md#slcan): opens the port, sets the bit
 * rate, opens the channel, hands out received frames (`frame`) and sends frames; when the adapter
 * vanishes or will not take its set-up it reconnects with a capped backoff. `state` events tell
 * where it is. The USB adapter ignores the serial baud rate.
 */
export class SlcanBus extends EventEmitter {
  readonly stats: SlcanBusStats = { sent: 0, received: 0, refused: 0, reconnects: 0 };
  private readonly options: Required<Omit<SlcanBusOptions, 'transportFactory'>> &
    Pick<SlcanBusOptions, 'transportFactory'>;
  private transport: Transport | undefined;
  private readonly parser = new SlcanParser();
  private phaseValue: SlcanBusPhase = 'closed';
  private lastError: string | undefined;
  /** The set-up command waiting for CR or BEL. */
  private pending: { resolve: (ok: boolean) => void; timer: NodeJS.Timeout } | undefined;
  private readonly reconnector: Reconnector;

  constructor(options: SlcanBusOptions) {
    super();
    this.options = { ...DEFAULTS, ...options };
    this.reconnector = new Reconnector(this.options.reconnectMinMs, this.options.reconnectMaxMs, () => {
      this.stats.reconnects++;
      this.connect();
    });
    // Checked now: a bit rate slcan has no code for is a configuration error, not a reason to retry.
    slcanBitrate(this.options.bitrate);
  }

  get state(): SlcanBusState {
    return this.lastError !== undefined && this.phaseValue !== 'open'
      ? { phase: this.phaseValue, error: this.lastError }
      : { phase: this.phaseValue };
  }

  get isOpen(): boolean {
    return this.phaseValue === 'open';
  }

  start(): void {
    if (this.phaseValue !== 'closed') return;
    this.connect();
  }

  /**
   * Sends one frame; false when the bus is not open or the write failed (nothing is queued: a stale
   * frame is worse than none). A failed write means the adapter is gone: the bus reconnects.
   */
  async send(frame: CanFrame): Promise<boolean> {
    const transport = this.transport;
    if (this.phaseValue !== 'open' || !transport) return false;
    const text = encodeSlcanFrame(frame);
    try {
      await transport.write(text);
    } catch (err) {
      this.lost(transport, errorMessage(err));
      return false;
    }
    this.stats.sent++;
    return true;
  }

  async stop(): Promise<void> {
    this.reconnector.cancel();
    const transport = this.transport;
    this.transport = undefined;
    this.settle(false);
    this.setPhase('closed');
    if (!transport) return;
    transport.removeAllListeners('data');
    // Close the channel first so the adapter stops acknowledging frames on the bus for nobody.
    await transport.write(SLCAN_CLOSE).catch(() => undefined);
    await transport.close();
    transport.removeAllListeners();
  }

  private setPhase(phase: SlcanBusPhase, error?: string): void {
    this.phaseValue = phase;
    if (error !== undefined) this.lastError = error;
    else if (phase === 'open') this.lastError = undefined;
    this.emit('state', this.state);
  }

  private connect(): void {
    this.setPhase('connecting');
    const make = this.options.transportFactory ?? createTransport;
    // The baud rate matters only for a real serial line in between; USB CDC adapters ignore it.
    const transport = make(this.options.port, { baudRate: 115_200 });
    this.transport = transport;
    this.parser.reset();
    void this.configure(transport);
  }

  private async configure(transport: Transport): Promise<void> {
    const opened = await openWired(
      transport,
      (data) => {
        for (const event of this.parser.push(data.toString('latin1'))) this.onEvent(event);
      },
      (reason) => {
        this.lost(transport, reason);
      },
    );
    if (!opened || this.transport !== transport) return;
    this.setPhase('configuring');
    try {
      // A channel left open by an earlier session refuses the bit rate: close it (a BEL when it was closed).
      await this.command(transport, SLCAN_CLOSE);
      const bitrate = slcanBitrate(this.options.bitrate);
      const answered = await this.command(transport, bitrate);
      if (answered === 'timeout')
        throw new LinkError(
          'timeout',
          `${this.options.port} does not answer slcan commands: is it an slcan (CANable / USBtin) adapter?`,
        );
      if (answered === 'refused')
        throw new LinkError(
          'config',
          `${this.options.port} refused the bit rate ${bitrate.trim()} (${String(this.options.bitrate)} bit/s)`,
        );
      const opened = await this.command(transport, SLCAN_OPEN);
      if (opened !== 'ok')
        throw new LinkError('config', `${this.options.port} did not open the CAN channel (${opened})`);
    } catch (err) {
      if (this.transport !== transport) return;
      this.transport = undefined;
      transport.removeAllListeners();
      await transport.close().catch(() => undefined);
      this.lost(undefined, errorMessage(err));
      return;
    }
    if (this.transport !== transport) return;
    this.reconnector.succeeded();
    this.setPhase('open');
  }

  private command(transport: Transport, text: string): Promise<'ok' | 'refused' | 'timeout'> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        resolve('timeout');
      }, this.options.commandTimeoutMs);
      this.pending = {
        resolve: (ok) => {
          resolve(ok ? 'ok' : 'refused');
        },
        timer,
      };
      transport.write(text).catch((err: unknown) => {
        clearTimeout(timer);
        this.pending = undefined;
        reject(err instanceof Error ? err : new Error(String(err)));
      });
    });
  }

  private settle(ok: boolean): boolean {
    const pending = this.pending;
    if (!pending) return false;
    this.pending = undefined;
    clearTimeout(pending.timer);
    pending.resolve(ok);
    return true;
  }

  private onEvent(event: SlcanEvent): void {
    switch (event.kind) {
      case 'frame':
        this.stats.received++;
        if (this.phaseValue === 'open') this.emit('frame', event.frame);
        return;
      case 'ok':
        this.settle(true);
        return;
      case 'error':
        if (!this.settle(false)) this.stats.refused++;
        return;
      default:
        return;
    }
  }

  /** The port is gone or would not set up: try again later (unless stopped). */
  private lost(transport: Transport | undefined, reason: string): void {
    if (transport) {
      if (this.transport !== transport) return;
      this.transport = undefined;
      transport.removeAllListeners();
    }
    if (this.phaseValue === 'closed') return;
    this.settle(false);
    this.setPhase('disconnected', reason);
    this.reconnector.schedule();
  }
}
