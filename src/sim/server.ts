import type net from 'node:net';
import type { SimResponder } from './bank';
import { StreamEndpoint, type SimEndpoints } from './endpoint';
import { Random } from './random';
import {
  NO_FAULTS,
  SimWire,
  emptyWireStats,
  type SimWireStats,
  type WireFaults,
  type WireScript,
  type WireShared,
} from './wire';
import { TimerSet } from './timers';

export interface SimServerOptions {
  readonly bank: SimResponder;
  readonly host?: string;
  /** TCP port; 0 picks a free one. */
  readonly port?: number;
  /** Also expose the bank on a pseudo-terminal at this path (`true`: a path in the temp folder). */
  readonly pty?: string | boolean;
  readonly baudRate?: number;
  /** Time the BMS takes to start answering once a request is complete. */
  readonly latencyMs?: number;
  /** Send bytes at the pace of the baud rate (10 bits per byte). */
  readonly paceWire?: boolean;
  readonly faults?: Partial<WireFaults>;
  readonly seed?: number;
  /** An RS485 pair: one sender at a time, the bank releasing the line `turnaroundMs` after its reply (see `WireShared`). */
  readonly halfDuplex?: boolean;
  readonly turnaroundMs?: number;
}

/**
 * Serves a simulated bank over TCP and, through socat, over a pseudo-terminal that the real
 * serialport stack can open. Requests are answered one at a time per connection after the time the
 * request would have taken on the wire plus the BMS latency; replies are paced at the baud rate
 * (see `SimWire`, which also makes the faults).
 */
export class SimServer {
  private readonly shared: WireShared;
  private readonly wires = new Set<SimWire>();
  private readonly timers = new TimerSet();
  private readonly endpoint: StreamEndpoint;

  constructor(private readonly options: SimServerOptions) {
    this.shared = {
      bank: options.bank,
      faults: { ...NO_FAULTS, ...options.faults },
      stats: emptyWireStats(),
      random: new Random(options.seed ?? 7),
      baudRate: options.baudRate ?? 9600,
      latencyMs: options.latencyMs ?? 30,
      paceWire: options.paceWire !== false,
      script: undefined,
      silentUntil: 0,
      ...(options.halfDuplex !== undefined ? { halfDuplex: options.halfDuplex } : {}),
      ...(options.turnaroundMs !== undefined ? { turnaroundMs: options.turnaroundMs } : {}),
    };
    this.endpoint = new StreamEndpoint(
      {
        name: 'lfp-bms-sim',
        ...(options.host !== undefined ? { host: options.host } : {}),
        ...(options.port !== undefined ? { port: options.port } : {}),
        ...(options.pty !== undefined ? { pty: options.pty } : {}),
      },
      (socket) => {
        this.serve(socket);
      },
    );
  }

  get faults(): WireFaults {
    return this.shared.faults;
  }

  get stats(): SimWireStats {
    return this.shared.stats;
  }

  get baudRate(): number {
    return this.shared.baudRate;
  }

  get latencyMs(): number {
    return this.shared.latencyMs;
  }

  /** Decide replies one by one instead of by chance (the n-th request counts from 1 over the server's life). */
  set script(script: WireScript | undefined) {
    this.shared.script = script;
  }

  /** A burst of silence: every request for the next `ms` is ignored. */
  silence(ms: number): void {
    this.shared.silentUntil = Date.now() + ms;
  }

  /** Milliseconds `bytes` take on the wire at the configured baud rate (8N1 = 10 bits). */
  wireMs(bytes: number): number {
    return (bytes * 10 * 1000) / this.baudRate;
  }

  /** Client connections open now (a pty counts as one: socat's). */
  get connections(): number {
    return this.endpoint.connections;
  }

  /** Resolves once no client connection is open. */
  idle(): Promise<void> {
    return this.endpoint.idle();
  }

  get endpoints(): SimEndpoints {
    return this.endpoint.endpoints;
  }

  start(): Promise<SimEndpoints> {
    return this.endpoint.start();
  }

  async stop(): Promise<void> {
    this.timers.clear();
    await this.goDown();
  }

  /** Stop answering: the pty goes away, connections drop and the TCP port stops listening. */
  private async goDown(): Promise<void> {
    for (const wire of this.wires) wire.close();
    this.wires.clear();
    await this.endpoint.stop();
  }

  /**
   * Pull the plug: drop every connection (and the pseudo-terminal) now and come back after
   * `durationMs` on the same TCP port and pty path.
   */
  async disconnect(durationMs: number): Promise<void> {
    await this.goDown();
    await new Promise<void>((resolve) => {
      this.timers.later(resolve, durationMs);
    });
    await this.endpoint.restart();
  }

  private serve(socket: net.Socket): void {
    const wire = new SimWire(this.shared, (bytes) => {
      if (!socket.destroyed) socket.write(bytes);
    });
    this.wires.add(wire);
    socket.on('data', (data) => {
      wire.receive(data);
    });
    socket.on('close', () => {
      wire.close();
      this.wires.delete(wire);
    });
  }
}
