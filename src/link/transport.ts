import { EventEmitter } from 'node:events';
import { readSync, writeSync } from 'node:fs';
import net from 'node:net';
import type {
  BindingInterface,
  BindingPortInterface,
  OpenOptions,
  SetOptions,
  UpdateOptions,
} from '@serialport/bindings-interface';
import { SerialPortStream } from '@serialport/stream';
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
  /**
   * Leave incoming bytes in the kernel for `ms` and take them in one read afterwards: a link that
   * knows how much of a long reply is still to come saves the cost of hundreds of small reads.
   */
  pauseReading?(ms: number): void;
}

/**
 * Pauses a readable stream for a while; one timer, never stacked. Bytes wait in the kernel's
 * buffer (4 KB for a tty, far more than 100 ms at any baud rate carries).
 */
class ReadHold {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly stream: () => { pause(): unknown; resume(): unknown; readonly readableLength: number } | undefined,
  ) {}

  hold(ms: number): void {
    const stream = this.stream();
    // Bytes the stream already holds are handed out first: pausing between them would starve.
    if (!stream || this.timer || stream.readableLength > 0) return;
    stream.pause();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.stream()?.resume();
    }, ms);
  }

  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

export interface TransportOptions {
  readonly baudRate: number;
}

/** `tcp://host:port` (bytes as they are: an RS232/RS485 gateway) or `modbus-tcp://host:port` (a Modbus-TCP gateway). */
export function isTcpPort(port: string): boolean {
  return /^(modbus-)?tcp:\/\//i.test(port);
}

/** One identity per physical link: the same device or gateway always gives the same key. */
export function portKey(port: string): string {
  if (isTcpPort(port)) {
    const { host, port: tcpPort } = parseTcp(port);
    // The scheme stays: a link's Modbus framing comes from it.
    const scheme = /^modbus-/i.test(port) ? 'modbus-tcp' : 'tcp';
    return `${scheme}://${host.toLowerCase()}:${String(tcpPort)}`;
  }
  return port.replace(/\/+$/, '');
}

export function parseTcp(port: string): { host: string; port: number } {
  const match = /^(?:modbus-)?tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d+)\/?$/i.exec(port);
  const tcpPort = match ? Number(match[2]) : NaN;
  if (!match || !Number.isInteger(tcpPort) || tcpPort < 1 || tcpPort > 65535) {
    throw new LinkError('config', `"${port}" is not tcp://host:port or modbus-tcp://host:port`);
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

/**
 * The platform's serial binding with reads that can be held back. Pausing a stream does not stop it
 * reading (it fills its buffer), so the hold sits below it: the next read of the port waits until
 * `until`, and then takes every byte the kernel gathered meanwhile in one go.
 */
export class HeldBinding implements BindingInterface {
  until = 0;

  constructor(private readonly inner: BindingInterface) {}

  list(): ReturnType<BindingInterface['list']> {
    return this.inner.list();
  }

  async open(options: OpenOptions): Promise<BindingPortInterface> {
    return new HeldPort(await this.inner.open(options), this);
  }
}

/** The part of the Unix bindings' poller used here (bindings-cpp exposes it as `poller`). */
interface Poller {
  once(event: 'readable', listener: (err?: Error | null) => void): unknown;
}

class HeldPort implements BindingPortInterface {
  constructor(
    private readonly inner: BindingPortInterface,
    private readonly binding: HeldBinding,
  ) {}

  get openOptions(): Required<OpenOptions> {
    return this.inner.openOptions;
  }

  get isOpen(): boolean {
    return this.inner.isOpen;
  }

  async read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }> {
    const wait = this.binding.until - Date.now();
    if (wait > 0) {
      await new Promise((resolve) => setTimeout(resolve, wait));
      // Closed while waiting: the stream expects a cancelled read, not a disconnection.
      if (!this.inner.isOpen) throw Object.assign(new Error('read cancelled: the port was closed'), { canceled: true });
    }
    await this.readable();
    return this.readNow(buffer, offset, length) ?? this.inner.read(buffer, offset, length);
  }

  /**
   * Once the poller has said readable, the bytes are read at once on the event loop: the port is
   * non-blocking, and the binding's own read goes through the thread pool (a hand-over to a worker
   * thread and back, and a promise, for every piece). Anything but bytes (EAGAIN, an error, end of
   * file) goes to the binding's read, which waits or reports the error the way the stream expects.
   */
  private readNow(buffer: Buffer, offset: number, length: number): { buffer: Buffer; bytesRead: number } | undefined {
    const fd = this.descriptor();
    if (fd === undefined) return undefined;
    try {
      const bytesRead = readSync(fd, buffer, offset, length, null);
      return bytesRead > 0 ? { buffer, bytesRead } : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Waits until the port has bytes, where the binding can say so (Linux, macOS). Without it every
   * piece costs a second thread-pool read that fails with EAGAIN (and an Error object) before the
   * binding waits itself.
   */
  private readable(): Promise<void> {
    const unix = this.unix();
    if (!unix) return Promise.resolve();
    return new Promise((resolve, reject) => {
      unix.poller.once('readable', (err?: Error | null) => {
        if (err) reject(err);
        else resolve();
      });
    });
  }

  /**
   * The open port's descriptor and poller where the binding polls one (Linux, macOS). Windows'
   * binding has an `fd` too, but it is a handle, not a descriptor, and no poller: undefined there.
   */
  private unix(): { readonly fd?: unknown; readonly poller: Poller } | undefined {
    const port = this.inner as { readonly fd?: unknown; readonly poller?: Poller };
    return port.poller && this.inner.isOpen ? { fd: port.fd, poller: port.poller } : undefined;
  }

  /** The descriptor to read and write straight away: only where the binding polls it. */
  private descriptor(): number | undefined {
    const fd = this.unix()?.fd;
    return typeof fd === 'number' ? fd : undefined;
  }

  /**
   * A request goes straight into the port's kernel buffer where there is a descriptor (it always fits:
   * a few dozen bytes against kilobytes): the binding's write hands it to a worker thread and wakes
   * the event loop again when done, twice per poll for nothing. What does not go at once (EAGAIN,
   * an error, a part left) is the binding's to write, wait for or report.
   */
  write(buffer: Buffer): Promise<void> {
    const fd = this.descriptor();
    if (fd === undefined || buffer.length === 0) return this.inner.write(buffer);
    let written: number;
    try {
      written = writeSync(fd, buffer);
    } catch {
      return this.inner.write(buffer);
    }
    return written >= buffer.length ? Promise.resolve() : this.inner.write(buffer.subarray(written));
  }

  close(): Promise<void> {
    return this.inner.close();
  }
  update(options: UpdateOptions): Promise<void> {
    return this.inner.update(options);
  }
  set(options: SetOptions): Promise<void> {
    return this.inner.set(options);
  }
  get(): ReturnType<BindingPortInterface['get']> {
    return this.inner.get();
  }
  getBaudRate(): Promise<{ baudRate: number }> {
    return this.inner.getBaudRate();
  }
  flush(): Promise<void> {
    return this.inner.flush();
  }
  drain(): Promise<void> {
    return this.inner.drain();
  }
}

class SerialTransport extends EventEmitter implements Transport {
  readonly description: string;
  private port: SerialPortStream | undefined;
  private readonly binding = new HeldBinding(SerialPort.binding);
  private opening: Promise<void> | undefined;
  private closed: Promise<void> | undefined;

  constructor(
    private readonly path: string,
    private readonly baudRate: number,
  ) {
    super();
    this.description = `${path} at ${baudRate} Bd`;
  }

  open(): Promise<void> {
    this.opening = new Promise((resolve, reject) => {
      // 8N1, exclusive lock: a second opener gets "Cannot lock port" instead of sharing the bus.
      const port = new SerialPortStream({
        binding: this.binding,
        path: this.path,
        baudRate: this.baudRate,
        dataBits: 8,
        parity: 'none',
        stopBits: 1,
        lock: true,
        autoOpen: false,
      });
      this.port = port;
      port.on('data', (data: Buffer) => this.emit('data', data));
      port.on('error', () => undefined);
      port.open((err) => {
        if (err) {
          this.port = undefined;
          reject(
            new LinkError('open-failed', `cannot open ${this.description}: ${err.message.replace(/^Error: /, '')}`),
          );
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

  pauseReading(ms: number): void {
    this.binding.until = Math.max(this.binding.until, Date.now() + ms);
  }

  /** Waits for an open in progress, so a port opened during close is released too. */
  close(): Promise<void> {
    this.binding.until = 0;
    this.closed ??= (async () => {
      await this.opening?.catch(() => undefined);
      const port = this.port;
      if (!port?.isOpen) return;
      await new Promise<void>((resolve) => {
        port.close(() => {
          resolve();
        });
      });
    })();
    return this.closed;
  }
}

/** Bytes one TCP read takes: several 15-pack replies. */
const TCP_READ_BUFFER = 16 * 1024;

class TcpTransport extends EventEmitter implements Transport {
  readonly description: string;
  private socket: net.Socket | undefined;
  private readonly reads = new ReadHold(() => (this.socket && !this.socket.destroyed ? this.socket : undefined));
  private opening: Promise<void> | undefined;
  private closed: Promise<void> | undefined;

  constructor(private readonly url: string) {
    super();
    this.description = url;
  }

  open(): Promise<void> {
    const { host, port } = parseTcp(this.url);
    this.opening = new Promise((resolve, reject) => {
      // Reads into one buffer of our own (`onread`): only then does pausing the socket stop reading
      // from the kernel, so a read hold gathers a gateway's many small pieces into one read.
      const socket = net.connect({
        host,
        port,
        onread: {
          buffer: Buffer.allocUnsafe(TCP_READ_BUFFER),
          callback: (n, buffer) => {
            this.emit('data', Buffer.from(buffer.subarray(0, n)));
            return true;
          },
        },
      });
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
        socket.on('error', (err) => {
          lastError = err;
        });
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
    if (!socket || socket.destroyed || !socket.writable)
      return Promise.reject(new LinkError('disconnected', `${this.url} is not connected`));
    return writeBytes(socket, data, this.url);
  }

  pauseReading(ms: number): void {
    this.reads.hold(ms);
  }

  close(): Promise<void> {
    this.reads.clear();
    this.closed ??= (async () => {
      await this.opening?.catch(() => undefined);
      const socket = this.socket;
      if (!socket || socket.destroyed) return;
      await new Promise<void>((resolve) => {
        socket.once('close', () => {
          resolve();
        });
        socket.destroy();
      });
    })();
    return this.closed;
  }
}
