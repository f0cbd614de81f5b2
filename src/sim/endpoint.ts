import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface EndpointOptions {
  readonly host?: string;
  /** TCP port; 0 picks a free one. */
  readonly port?: number;
  /** Also on a pseudo-terminal at this path (`true`: a path in the temp folder named after `name`). */
  readonly pty?: string | boolean;
  readonly name: string;
}

export interface SimEndpoints {
  readonly tcp: string;
  readonly pty?: string;
}

/**
 * A simulated device's byte stream on a TCP port and, through socat, on a pseudo-terminal the real
 * serialport stack can open (socat connects the pty to the TCP port as one client). Each client
 * connection goes to `serve`; `disconnect` pulls the plug and comes back on the same port and path.
 */
export class StreamEndpoint {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private socat: ChildProcess | undefined;
  private tcpPort = 0;
  private ptyPath: string | undefined;
  private down = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly options: EndpointOptions,
    private readonly serve: (socket: net.Socket) => void,
  ) {}

  /** Client connections open now (a pty counts as one: socat's). */
  get connections(): number {
    return this.sockets.size;
  }

  get endpoints(): SimEndpoints {
    return {
      tcp: `tcp://${this.options.host ?? '127.0.0.1'}:${String(this.tcpPort)}`,
      ...(this.ptyPath ? { pty: this.ptyPath } : {}),
    };
  }

  /** Resolves once no client connection is open. */
  idle(): Promise<void> {
    if (this.sockets.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
    });
  }

  async start(): Promise<SimEndpoints> {
    await this.listen(this.options.port ?? 0);
    if (this.options.pty) {
      this.ptyPath =
        typeof this.options.pty === 'string'
          ? this.options.pty
          : path.join(os.tmpdir(), `${this.options.name}-${String(process.pid)}-${String(this.tcpPort)}`);
      await this.startSocat();
    }
    return this.endpoints;
  }

  /** Stop answering: the pty goes away, connections drop and the TCP port stops listening. */
  async stop(): Promise<void> {
    this.down = true;
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

  /** Back on the same TCP port and pty path after `stop`. */
  async restart(): Promise<void> {
    this.down = false;
    await this.listen(this.tcpPort);
    if (this.ptyPath) await this.startSocat();
  }

  private async listen(port: number): Promise<void> {
    const server = net.createServer((socket) => {
      if (this.down) {
        socket.destroy();
        return;
      }
      this.sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.sockets.delete(socket);
        if (this.sockets.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
      });
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
    const socat = spawn('socat', [`PTY,link=${ptyPath},raw,echo=0`, `TCP:127.0.0.1:${String(this.tcpPort)}`], {
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
}
