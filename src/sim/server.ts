import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { FrameStreamParser } from '../protocol';
import type { SimulatedBank } from './bank';
import { Random } from './random';

/** Faults on the wire, switchable at any time. Rates are probabilities per reply. */
export interface WireFaults {
  /** One character of the reply replaced (always caught by the checksum). */
  corruptRate: number;
  /** The reply never sent. */
  dropRate: number;
  /** Extra delay before every reply. */
  delayMs: number;
  /** Random bytes before the reply. */
  garbageRate: number;
  /** The request is sent back first, as an RS485 adapter without echo suppression does. */
  echo: boolean;
}

export interface SimServerOptions {
  readonly bank: SimulatedBank;
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
}

export interface SimEndpoints {
  readonly tcp: string;
  readonly pty?: string;
}

/** Statistics of what the simulator did on the wire. */
export interface SimWireStats {
  requests: number;
  replies: number;
  dropped: number;
  corrupted: number;
  echoed: number;
  garbageBursts: number;
  bytesOut: number;
}

/**
 * Serves a simulated bank over TCP and, through socat, over a pseudo-terminal that the real
 * serialport stack can open. Requests are answered one at a time per connection after the time the
 * request would have taken on the wire plus the BMS latency; replies are paced at the baud rate.
 */
export class SimServer {
  readonly faults: WireFaults;
  readonly stats: SimWireStats = { requests: 0, replies: 0, dropped: 0, corrupted: 0, echoed: 0, garbageBursts: 0, bytesOut: 0 };
  private readonly bank: SimulatedBank;
  private readonly random: Random;
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private socat: ChildProcess | undefined;
  private tcpPort = 0;
  private ptyPath: string | undefined;
  private down = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: SimServerOptions) {
    this.bank = options.bank;
    this.random = new Random(options.seed ?? 7);
    this.faults = { corruptRate: 0, dropRate: 0, delayMs: 0, garbageRate: 0, echo: false, ...options.faults };
  }

  get baudRate(): number {
    return this.options.baudRate ?? 9600;
  }

  get latencyMs(): number {
    return this.options.latencyMs ?? 30;
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
    return new Promise((resolve) => { this.idleWaiters.push(resolve); });
  }

  get endpoints(): SimEndpoints {
    return { tcp: `tcp://${this.options.host ?? '127.0.0.1'}:${this.tcpPort}`, ...(this.ptyPath ? { pty: this.ptyPath } : {}) };
  }

  async start(): Promise<SimEndpoints> {
    await this.listen(this.options.port ?? 0);
    if (this.options.pty) {
      this.ptyPath = typeof this.options.pty === 'string'
        ? this.options.pty
        : path.join(os.tmpdir(), `lfp-bms-sim-${process.pid}-${this.tcpPort}`);
      await this.startSocat();
    }
    return this.endpoints;
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.goDown();
  }

  /** Stop answering: the pty goes away, connections drop and the TCP port stops listening. */
  private async goDown(): Promise<void> {
    this.down = true;
    await this.stopSocat();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => { resolve(); }));
  }

  /**
   * Pull the plug: drop every connection (and the pseudo-terminal) now and come back after
   * `durationMs` on the same TCP port and pty path.
   */
  async disconnect(durationMs: number): Promise<void> {
    await this.goDown();
    await new Promise<void>((resolve) => { this.later(resolve, durationMs); });
    this.down = false;
    await this.listen(this.tcpPort);
    if (this.ptyPath) await this.startSocat();
  }

  private async listen(port: number): Promise<void> {
    const server = net.createServer((socket) => { this.serve(socket); });
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
    const socat = spawn('socat', [`PTY,link=${ptyPath},raw,echo=0`, `TCP:127.0.0.1:${this.tcpPort}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.socat = socat;
    let stderr = '';
    socat.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const failed = new Promise<never>((_resolve, reject) => {
      socat.once('error', (err) => { reject(new Error(`cannot start socat (install it: apt-get install socat): ${err.message}`)); });
      socat.once('exit', (code) => { reject(new Error(`socat exited (${String(code)}): ${stderr.trim()}`)); });
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
    const parser = new FrameStreamParser();
    const queue: string[] = [];
    let busy = false;
    const next = (): void => {
      if (busy || socket.destroyed) return;
      const text = queue.shift();
      if (text === undefined) return;
      busy = true;
      this.exchange(socket, text, () => {
        busy = false;
        next();
      });
    };
    socket.on('data', (data) => {
      for (const event of parser.push(data)) {
        if (event.type === 'frame') queue.push(event.text);
        // A damaged request goes to the bank too, which stays silent like a real BMS.
        else if (event.type === 'error') queue.push(event.text);
      }
      next();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.sockets.delete(socket);
      if (this.sockets.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    });
  }

  /** One request: its own wire time, the BMS latency and faults, then the paced reply. */
  private exchange(socket: net.Socket, text: string, done: () => void): void {
    this.stats.requests++;
    const requestBytes = text.length + 1;
    const pace = this.options.paceWire !== false;
    const arrival = pace ? this.wireMs(requestBytes) : 0;
    if (this.faults.echo) {
      this.stats.echoed++;
      this.send(socket, `${text}\r`, 0);
    }
    this.later(() => {
      if (socket.destroyed) {
        done();
        return;
      }
      const { reply } = this.bank.handle(text);
      if (reply === undefined || this.random.chance(this.faults.dropRate)) {
        if (reply !== undefined) this.stats.dropped++;
        done();
        return;
      }
      let out = `${reply}\r`;
      if (this.random.chance(this.faults.corruptRate)) {
        this.stats.corrupted++;
        out = corrupt(out, this.random);
      }
      if (this.random.chance(this.faults.garbageRate)) {
        this.stats.garbageBursts++;
        out = garbage(this.random) + out;
      }
      this.stats.replies++;
      this.send(socket, out, 0, done);
    }, arrival + this.latencyMs + this.faults.delayMs);
  }

  /** Write at the baud rate: each chunk leaves when its last byte would have left the UART. */
  private send(socket: net.Socket, text: string, startDelay: number, done?: () => void): void {
    const bytes = Buffer.from(text, 'latin1');
    this.stats.bytesOut += bytes.length;
    if (this.options.paceWire === false) {
      socket.write(bytes);
      done?.();
      return;
    }
    const chunk = Math.max(1, Math.floor(10 / this.wireMs(1)));
    const start = Date.now() + startDelay;
    const step = (offset: number): void => {
      const end = Math.min(bytes.length, offset + chunk);
      if (!socket.destroyed) socket.write(bytes.subarray(offset, end));
      if (socket.destroyed || end >= bytes.length) {
        done?.();
        return;
      }
      this.later(() => { step(end); }, start + this.wireMs(end + Math.min(chunk, bytes.length - end)) - Date.now());
    };
    this.later(() => { step(0); }, start + this.wireMs(Math.min(chunk, bytes.length)) - Date.now());
  }

  private later(fn: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, Math.max(0, ms));
    this.timers.add(timer);
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
