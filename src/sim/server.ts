import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { SimResponder } from './bank';
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

export interface SimEndpoints {
  readonly tcp: string;
  readonly pty?: string;
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
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private readonly timers = new TimerSet();
  private socat: ChildProcess | undefined;
  private tcpPort = 0;
  private ptyPath: string | undefined;
  private down = false;
  private idleWaiters: (() => void)[] = [];

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
    return this.sockets.size;
  }

  /** Resolves once no client connection is open. */
  idle(): Promise<void> {
    if (this.sockets.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
    });
  }

  get endpoints(): SimEndpoints {
    return {
      tcp: `tcp://${this.options.host ?? '127.0.0.1'}:${this.tcpPort}`,
      ...(this.ptyPath ? { pty: this.ptyPath } : {}),
    };
  }

  async start(): Promise<SimEndpoints> {
    await this.listen(this.options.port ?? 0);
    if (this.options.pty) {
      this.ptyPath =
        typeof this.options.pty === 'string'
          ? this.options.pty
          : path.join(os.tmpdir(), `lfp-bms-sim-${process.pid}-${this.tcpPort}`);
      await this.startSocat();
    }
    return this.endpoints;
  }

  async stop(): Promise<void> {
    this.timers.clear();
    await this.goDown();
  }

  /** Stop answering: the pty goes away, connections drop and the TCP port stops listening. */
  private async goDown(): Promise<void> {
    this.down = true;
    for (const wire of this.wires) wire.close();
    this.wires.clear();
    await this.stopSocat();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (server)
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
  }

  /**
   * Pull the plug: drop every connection (and the pseudo-terminal) now and come back after
   * `durationMs` on the same TCP port and pty path.
   */
  async disconnect(durationMs: number): Promise<void> {
    await this.goDown();
    await new Promise<void>((resolve) => {
      this.later(resolve, durationMs);
    });
    this.down = false;
    await this.listen(this.tcpPort);
    if (this.ptyPath) await this.startSocat();
  }

  private async listen(port: number): Promise<void> {
    const server = net.createServer((socket) => {
      this.serve(socket);
    });
    this.server = server;
    server.listen(port, this.options.host ?? '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (address && typeof address === 'object') this.tcpPort = address.port;
    this.down = false;
  }

  private async startSocat(): Promise<void> {
    const ptyPath = this.ptyPath;
    if (!ptyPath) return;
    const socat = spawn('socat', [`PTY,link=${ptyPath},raw,echo=0`, `TCP:127.0.0.1:${this.tcpPort}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.socat = socat;
    let stderr = '';
    socat.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const failed = new Promise<never>((_resolve, reject) => {
      socat.once('error', (err) => {
        reject(new Error(`cannot start socat (install it: apt-get install socat): ${err.message}`));
      });
      socat.once('exit', (code) => {
        reject(new Error(`socat exited (${String(code)}): ${stderr.trim()}`));
      });
    });
    // socat creates the link once both ends are open.
    const ready = (async () => {
      for (let i = 0; i < 200; i++) {
        if (fs.existsSync(ptyPath) && this.sockets.size > 0) return;
        await new Promise<void>((resolve) => setTimeout(resolve, 10));
      }
      throw new Error(`socat did not create ${ptyPath}`);
    })();
    await Promise.race([ready, failed]);
    failed.catch(() => undefined);
  }

  private async stopSocat(): Promise<void> {
    const socat = this.socat;
    this.socat = undefined;
    if (!socat || socat.exitCode !== null || socat.signalCode !== null) return;
    const exited = once(socat, 'exit');
    socat.kill('SIGTERM');
    await exited;
  }

  private serve(socket: net.Socket): void {
    if (this.down) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const wire = new SimWire(this.shared, (bytes) => {
      if (!socket.destroyed) socket.write(bytes);
    });
    this.wires.add(wire);
    socket.on('data', (data) => {
      wire.receive(data);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      wire.close();
      this.wires.delete(wire);
      this.sockets.delete(socket);
      if (this.sockets.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    });
  }

  private later(fn: () => void, ms: number): void {
    this.timers.later(fn, ms);
  }
}
