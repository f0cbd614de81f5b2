import { EventEmitter } from 'node:events';
import { FrameError, FrameStreamParser, MAX_FRAME_CHARS, parseFrame, type Frame } from '../protocol';
import { LinkError, asError, errorMessage } from './errors';
import { createTransport, portKey, type Transport, type TransportOptions } from './transport';

export type Priority = 'interactive' | 'polling' | 'background';
const PRIORITIES: readonly Priority[] = ['interactive', 'polling', 'background'];

export interface LinkOptions {
  /** Serial device path or `tcp://host:port` of an RS232/RS485-to-Ethernet gateway. */
  readonly port: string;
  readonly baudRate?: number;
  /** Silence allowed before a reply (and between its bytes) before the attempt fails. */
  readonly timeoutMs?: number;
  /** Quiet time on the bus between the end of one exchange and the next request. */
  readonly gapMs?: number;
  readonly retries?: number;
  readonly queueLimit?: number;
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
  /**
   * Reopen the connection after this many timeouts in a row (0 = never, the default). For cheap
   * TCP gateways that keep half-open sessions only a new connection cures; absent or sleeping
   * packs also time out, so set it well above the number of packs polled.
   */
  readonly recycleAfterTimeouts?: number;
  readonly transportFactory?: (port: string, options: TransportOptions) => Transport;
}

export interface RequestOptions {
  readonly priority?: Priority;
  readonly timeoutMs?: number;
  readonly retries?: number;
  /**
   * Whether a reply belongs to this request. Replies that fail it (a late answer to an earlier
   * request, another device) are dropped and the wait goes on.
   */
  readonly accept?: (reply: Frame, text: string) => boolean;
}

export interface Reply {
  readonly text: string;
  readonly frame: Frame;
  readonly attempts: number;
  readonly elapsedMs: number;
}

export type LinkState = 'idle' | 'connecting' | 'connected' | 'disconnected' | 'closed';

export interface LinkStats {
  framesOk: number;
  timeouts: number;
  checksumErrors: number;
  frameErrors: number;
  retries: number;
  echoes: number;
  foreign: number;
  late: number;
  garbageBytes: number;
  bytesIn: number;
  bytesOut: number;
  reconnects: number;
}

interface Job {
  readonly text: string;
  readonly priority: Priority;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly accept: (reply: Frame, text: string) => boolean;
  readonly resolve: (reply: Reply) => void;
  readonly reject: (err: Error) => void;
  readonly enqueuedAt: number;
  attempts: number;
  lastError?: Error;
}

const DEFAULTS = {
  baudRate: 9600,
  timeoutMs: 1000,
  gapMs: 50,
  retries: 1,
  queueLimit: 64,
  reconnectMinMs: 500,
  reconnectMaxMs: 30_000,
};

interface RegistryEntry {
  readonly link: BmsLink;
  refs: number;
}

const registry = new Map<string, RegistryEntry>();

/**
 * The one bus master of a port: one request in flight, a bounded priority queue, per-request
 * timeouts and retries, and replies matched to the request. When the port goes away every pending
 * request fails at once and the link reconnects with a capped exponential backoff, always through
 * a new port object. Links are shared per physical port: `acquire` the same port twice and both
 * users get the same link; it closes when the last one `release`s it.
 */
export class BmsLink extends EventEmitter {
  readonly port: string;
  readonly key: string;
  readonly stats: LinkStats = {
    framesOk: 0, timeouts: 0, checksumErrors: 0, frameErrors: 0, retries: 0, echoes: 0, foreign: 0, late: 0,
    garbageBytes: 0, bytesIn: 0, bytesOut: 0, reconnects: 0,
  };

  private readonly options: Required<Omit<LinkOptions, 'transportFactory'>>;
  private readonly makeTransport: (port: string, options: TransportOptions) => Transport;
  private readonly parser = new FrameStreamParser();
  private readonly queues: Record<Priority, Job[]> = { interactive: [], polling: [], background: [] };
  private linkState: LinkState = 'idle';
  private transport: Transport | undefined;
  private current: Job | undefined;
  private sentAt = 0;
  private responseTimer: NodeJS.Timeout | undefined;
  private deadline = 0;
  private gapTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectAttempt = 0;
  private closing: Promise<void> | undefined;
  private lastError = '';
  private timeoutsInARow = 0;

  /** Get the link of a port, opening it on first use; call `release()` when done. */
  static acquire(options: LinkOptions): BmsLink {
    const key = portKey(options.port);
    const entry = registry.get(key);
    if (entry) {
      const baud = options.baudRate ?? DEFAULTS.baudRate;
      if (entry.link.options.baudRate !== baud && !key.startsWith('tcp://')) {
        throw new LinkError('config', `${options.port} is already in use at ${entry.link.options.baudRate} Bd, not ${baud} Bd`);
      }
      entry.refs++;
      return entry.link;
    }
    const link = new BmsLink(options, key);
    registry.set(key, { link, refs: 1 });
    return link;
  }

  /** Number of users of the link of this port (0 when it is not open). */
  static users(port: string): number {
    return registry.get(portKey(port))?.refs ?? 0;
  }

  private constructor(options: LinkOptions, key: string) {
    super();
    this.port = options.port;
    this.key = key;
    this.options = {
      port: options.port,
      baudRate: options.baudRate ?? DEFAULTS.baudRate,
      timeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs,
      gapMs: options.gapMs ?? DEFAULTS.gapMs,
      retries: options.retries ?? DEFAULTS.retries,
      queueLimit: options.queueLimit ?? DEFAULTS.queueLimit,
      reconnectMinMs: options.reconnectMinMs ?? DEFAULTS.reconnectMinMs,
      reconnectMaxMs: options.reconnectMaxMs ?? DEFAULTS.reconnectMaxMs,
      recycleAfterTimeouts: options.recycleAfterTimeouts ?? 0,
    };
    this.makeTransport = options.transportFactory ?? createTransport;
    // An 'error' with no listener would crash the process: errors are reported, never thrown.
    this.on('error', () => undefined);
  }

  get state(): LinkState {
    return this.linkState;
  }

  get baudRate(): number {
    return this.options.baudRate;
  }

  get queueLength(): number {
    return PRIORITIES.reduce((n, p) => n + this.queues[p].length, this.current ? 1 : 0);
  }

  /** Open now instead of on the first request; resolves when connected or rejects with why not. */
  open(): Promise<void> {
    if (this.linkState === 'connected') return Promise.resolve();
    if (this.linkState === 'closed') return Promise.reject(new LinkError('closed', `${this.port} is closed`));
    return new Promise((resolve, reject) => {
      const onConnected = (): void => { cleanup(); resolve(); };
      const onError = (err: Error): void => { cleanup(); reject(err); };
      const cleanup = (): void => {
        this.off('connected', onConnected);
        this.off('error', onError);
      };
      this.on('connected', onConnected);
      this.on('error', onError);
      if (this.linkState === 'idle') this.connect();
    });
  }

  /** Send a request frame (text without CR) and wait for its reply. */
  request(text: string, options: RequestOptions = {}): Promise<Reply> {
    if (this.linkState === 'closed') return Promise.reject(new LinkError('closed', `${this.port} is closed`));
    if (this.linkState === 'disconnected') {
      return Promise.reject(new LinkError('disconnected', `${this.port} is not connected${this.lastError ? ` (${this.lastError})` : ''}; reconnecting`));
    }
    let request: Frame;
    try {
      request = parseFrame(text);
    } catch (err) {
      return Promise.reject(asError(err));
    }
    if (this.queueLength >= this.options.queueLimit) {
      return Promise.reject(new LinkError('queue-full', `${this.port}: ${this.options.queueLimit} requests already waiting`));
    }
    return new Promise((resolve, reject) => {
      const priority = options.priority ?? 'polling';
      this.queues[priority].push({
        text,
        priority,
        timeoutMs: options.timeoutMs ?? this.options.timeoutMs,
        retries: options.retries ?? this.options.retries,
        accept: options.accept ?? defaultAccept(request),
        resolve,
        reject,
        enqueuedAt: Date.now(),
        attempts: 0,
      });
      if (this.linkState === 'idle') this.connect();
      else this.pump();
    });
  }

  /** Give up this user's share; the last one closes the port. */
  async release(): Promise<void> {
    const entry = registry.get(this.key);
    if (entry?.link === this) {
      entry.refs--;
      if (entry.refs > 0) return;
      registry.delete(this.key);
    }
    await this.close();
  }

  /** Fail everything pending and release the port; resolves when the port is really free. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const entry = registry.get(this.key);
      if (entry?.link === this) registry.delete(this.key);
      this.linkState = 'closed';
      this.clearTimers();
      this.failAll(new LinkError('closed', `${this.port} was closed`));
      const transport = this.transport;
      this.transport = undefined;
      if (transport) {
        transport.removeAllListeners();
        await transport.close();
      }
      this.emit('closed');
    })();
    return this.closing;
  }

  private connect(): void {
    this.linkState = 'connecting';
    const transport = this.makeTransport(this.port, { baudRate: this.options.baudRate });
    this.transport = transport;
    transport.on('data', (data: Buffer) => { this.onData(data); });
    transport.on('close', (err?: Error) => { this.onLost(transport, err); });
    void this.openTransport(transport);
  }

  private async openTransport(transport: Transport): Promise<void> {
    try {
      await transport.open();
    } catch (err) {
      if (this.transport !== transport || this.linkState === 'closed') return;
      transport.removeAllListeners();
      this.transport = undefined;
      const error = err instanceof LinkError ? err : new LinkError('open-failed', `cannot open ${this.port}: ${errorMessage(err)}`);
      this.lastError = error.message;
      this.linkState = 'disconnected';
      this.failAll(error);
      this.emit('error', error);
      this.scheduleReconnect();
      return;
    }
    if (this.transport !== transport || this.linkState === 'closed') {
      // Closed while opening: release what was just opened.
      await transport.close();
      return;
    }
    this.linkState = 'connected';
    this.reconnectAttempt = 0;
    this.lastError = '';
    this.parser.reset();
    this.emit('connected');
    this.pump();
  }

  private onLost(transport: Transport, err?: Error): void {
    if (this.transport !== transport || this.linkState === 'closed') return;
    transport.removeAllListeners();
    this.transport = undefined;
    const wasConnected = this.linkState === 'connected';
    this.linkState = 'disconnected';
    this.clearTimers();
    const reason = err ? errorMessage(err) : 'port closed';
    this.lastError = `${this.port} disconnected: ${reason}`;
    this.failAll(new LinkError('disconnected', this.lastError));
    this.parser.reset();
    if (wasConnected) this.emit('disconnected', new LinkError('disconnected', this.lastError));
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.linkState === 'closed') return;
    const base = Math.min(this.options.reconnectMaxMs, this.options.reconnectMinMs * 2 ** this.reconnectAttempt);
    this.reconnectAttempt++;
    // Jitter so that links to one gateway do not retry in lockstep.
    const delay = Math.round(base * (1 + Math.random() * 0.2));
    this.emit('reconnecting', delay);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.stats.reconnects++;
      this.connect();
    }, delay);
  }

  private pump(): void {
    if (this.linkState !== 'connected' || this.current || this.gapTimer) return;
    const job = PRIORITIES.map((p) => this.queues[p]).find((q) => q.length > 0)?.shift();
    if (!job) return;
    this.current = job;
    this.send(job);
  }

  private send(job: Job): void {
    const transport = this.transport;
    if (!transport) return;
    job.attempts++;
    this.parser.expectEcho(job.text);
    this.sentAt = Date.now();
    // Long replies at low baud take seconds on the wire: silence, not total time, ends an attempt,
    // within a hard limit of the timeout plus the longest frame's wire time.
    this.deadline = this.sentAt + job.timeoutMs + Math.ceil(((MAX_FRAME_CHARS + 1) * 10 * 1000) / this.options.baudRate);
    this.armResponseTimer(job.timeoutMs);
    this.stats.bytesOut += job.text.length + 1;
    transport.write(`${job.text}\r`).catch((err: unknown) => {
      this.onLost(transport, asError(err));
    });
  }

  private armResponseTimer(ms: number): void {
    if (this.responseTimer) clearTimeout(this.responseTimer);
    const wait = Math.max(0, Math.min(ms, this.deadline - Date.now()));
    this.responseTimer = setTimeout(() => {
      this.responseTimer = undefined;
      const job = this.current;
      if (!job) return;
      this.stats.timeouts++;
      this.timeoutsInARow++;
      this.attemptFailed(job, new LinkError('timeout', `no reply from ${this.port} within ${job.timeoutMs} ms`));
      const limit = this.options.recycleAfterTimeouts;
      if (limit > 0 && this.timeoutsInARow >= limit && this.transport) {
        this.timeoutsInARow = 0;
        this.onLost(this.transport, new Error(`no reply to ${limit} requests in a row: reconnecting`));
      }
    }, wait);
  }

  private onData(data: Buffer): void {
    this.stats.bytesIn += data.length;
    for (const event of this.parser.push(data)) {
      switch (event.type) {
        case 'garbage':
          this.stats.garbageBytes += event.bytes;
          break;
        case 'echo':
          this.stats.echoes++;
          break;
        case 'error':
          if (event.error.kind === 'checksum' || event.error.kind === 'lchksum') this.stats.checksumErrors++;
          else this.stats.frameErrors++;
          if (this.current) this.attemptFailed(this.current, event.error);
          break;
        case 'frame': {
          const job = this.current;
          if (!job) this.stats.late++;
          else if (!job.accept(event.frame, event.text)) this.stats.foreign++;
          else this.complete(job, { text: event.text, frame: event.frame, attempts: job.attempts, elapsedMs: Date.now() - this.sentAt });
          break;
        }
      }
    }
    if (this.current && this.parser.bufferedChars > 0) this.armResponseTimer(this.current.timeoutMs);
  }

  private complete(job: Job, reply: Reply): void {
    this.timeoutsInARow = 0;
    this.clearResponseTimer();
    this.current = undefined;
    this.stats.framesOk++;
    job.resolve(reply);
    this.startGap();
  }

  /** A timeout or a damaged reply: retry after the gap while attempts remain, else fail. */
  private attemptFailed(job: Job, error: Error): void {
    this.clearResponseTimer();
    this.current = undefined;
    job.lastError = error;
    if (job.attempts <= job.retries) {
      this.stats.retries++;
      this.queues[job.priority].unshift(job);
    } else {
      job.reject(error instanceof FrameError ? new FrameError(error.kind, `${error.message} (after ${job.attempts} attempts)`) : error);
    }
    this.startGap();
  }

  private startGap(): void {
    if (this.gapTimer) clearTimeout(this.gapTimer);
    this.gapTimer = setTimeout(() => {
      this.gapTimer = undefined;
      this.pump();
    }, this.options.gapMs);
  }

  private failAll(error: LinkError): void {
    const jobs = [...(this.current ? [this.current] : []), ...PRIORITIES.flatMap((p) => this.queues[p].splice(0))];
    this.current = undefined;
    this.clearResponseTimer();
    for (const job of jobs) job.reject(error);
  }

  private clearResponseTimer(): void {
    if (this.responseTimer) clearTimeout(this.responseTimer);
    this.responseTimer = undefined;
  }

  private clearTimers(): void {
    this.clearResponseTimer();
    if (this.gapTimer) clearTimeout(this.gapTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.gapTimer = undefined;
    this.reconnectTimer = undefined;
  }
}

/**
 * A reply belongs to a request when it has the request's CID1 and comes from the addressed pack.
 * Requests to ADR 00 or FF may be answered by any address (PACE RS232 answers with its own DIP).
 */
export function defaultAccept(request: Frame): (reply: Frame) => boolean {
  return (reply) =>
    reply.cid1 === request.cid1 && (request.address === 0x00 || request.address === 0xff || reply.address === request.address);
}
