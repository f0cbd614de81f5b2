import { EventEmitter } from 'node:events';
import net from 'node:net';
import { SerialPort } from 'serialport';
import { LinkError, errorMessage } from './errors';

/**
 * A byte pipe to the bus. Events: `data` (Buffer), `close` (Error | undefined: the pipe is gone,
 * by accident when an error is given). A transport is opened once; reconnecting makes a new one.
 */
export interface Transport extends EventEmitter {
  readonly description: string;
  open(): Promise<void>;
  write(data: string): Promise<void>;
  /** Resolves once the port or socket is really released. */
  close(): Promise<void>;
}

export interface TransportOptions {
  readonly baudRate: number;
}

export function isTcpPort(port: string): boolean {
  return /^tcp:\/\//i.test(port);
}

/** One identity per physical link: the same device or gateway always gives the same key. */
export function portKey(port: string): string {
  if (isTcpPort(port)) {
    const { host, port: tcpPort } = parseTcp(port);
    return `tcp://${host.toLowerCase()}:${tcpPort}`;
  }
  return port.replace(/\/+$/, '');
}

export function parseTcp(port: string): { host: string; port: number } {
  const match = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d+)\/?$/i.exec(port);
  const tcpPort = match ? Number(match[2]) : NaN;
  if (!match || !Number.isInteger(tcpPort) || tcpPort < 1 || tcpPort > 65535) {
    throw new LinkError('config', `"${port}" is not tcp://host:port`);
  }
  return { host: (match[1] ?? '').replace(/^\[|\]$/g, ''), port: tcpPort };
}

export function createTransport(port: string, options: TransportOptions): Transport {
  return isTcpPort(port) ? new TcpTransport(port) : new SerialTransport(port, options.baudRate);
}

/** Frame text goes out as bytes; a failed write means the port or connection is gone. */
function writeBytes(
  target: { write(chunk: Buffer, callback: (err?: Error | null) => void): unknown },
  data: string,
  description: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    target.write(Buffer.from(data, 'latin1'), (err) => {
      if (err) reject(new LinkError('disconnected', `write to ${description} failed: ${err.message}`));
      else resolve();
    });
  });
}

class SerialTransport extends EventEmitter implements Transport {
  readonly description: string;
  private port: SerialPort | undefined;
  private opening: Promise<void> | undefined;
  private closed: Promise<void> | undefined;

  constructor(private readonly path: string, private readonly baudRate: number) {
    super();
    this.description = `${path} at ${baudRate} Bd`;
  }

  open(): Promise<void> {
    this.opening = new Promise((resolve, reject) => {
      // 8N1, exclusive lock: a second opener gets "Cannot lock port" instead of sharing the bus.
      const port = new SerialPort({ path: this.path, baudRate: this.baudRate, dataBits: 8, parity: 'none', stopBits: 1, lock: true, autoOpen: false });
      this.port = port;
      port.on('data', (data: Buffer) => this.emit('data', data));
      port.on('error', () => undefined);
      port.open((err) => {
        if (err) {
          this.port = undefined;
          reject(new LinkError('open-failed', `cannot open ${this.description}: ${err.message.replace(/^Error: /, '')}`));
          return;
        }
        port.once('close', (closeErr: Error | null) => {
          this.emit('close', closeErr ?? undefined);
        });
        resolve();
      });
    });
    return this.opening;
  }

  write(data: string): Promise<void> {
    const port = this.port;
    if (!port?.isOpen) return Promise.reject(new LinkError('disconnected', `${this.description} is not open`));
    return writeBytes(port, data, this.description);
  }

  /** Waits for an open in progress, so a port opened during close is released too. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      await this.opening?.catch(() => undefined);
      const port = this.port;
      if (!port?.isOpen) return;
      await new Promise<void>((resolve) => { port.close(() => { resolve(); }); });
    })();
    return this.closed;
  }
}

class TcpTransport extends EventEmitter implements Transport {
  readonly description: string;
  private socket: net.Socket | undefined;
  private opening: Promise<void> | undefined;
  private closed: Promise<void> | undefined;

  constructor(private readonly url: string) {
    super();
    this.description = url;
  }

  open(): Promise<void> {
    const { host, port } = parseTcp(this.url);
    this.opening = new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      this.socket = socket;
      const onError = (err: Error): void => {
        socket.destroy();
        reject(new LinkError('open-failed', `cannot connect to ${this.url}: ${errorMessage(err)}`));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        socket.setNoDelay(true);
        socket.setKeepAlive(true, 10_000);
        let lastError: Error | undefined;
        socket.on('error', (err) => { lastError = err; });
        socket.on('data', (data) => this.emit('data', data));
        socket.once('close', () => {
          this.emit('close', lastError ?? new Error(`${this.url} closed the connection`));
        });
        resolve();
      });
    });
    return this.opening;
  }

  write(data: string): Promise<void> {
    const socket = this.socket;
    if (!socket || socket.destroyed || !socket.writable) return Promise.reject(new LinkError('disconnected', `${this.url} is not connected`));
    return writeBytes(socket, data, this.url);
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      await this.opening?.catch(() => undefined);
      const socket = this.socket;
      if (!socket || socket.destroyed) return;
      await new Promise<void>((resolve) => {
        socket.once('close', () => { resolve(); });
        socket.destroy();
      });
    })();
    return this.closed;
  }
}
