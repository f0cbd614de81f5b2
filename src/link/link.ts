import { EventEmitter } from 'node:events';
import {
  FrameError,
  FrameStreamParser,
  MAX_FRAME_CHARS,
  MbapStreamFramer,
  RtuStreamFramer,
  bytesHex,
  encodeMbap,
  encodePdu,
  encodeRtuRequest,
  decodeReplyPdu,
  decodeRtuRequest,
  parseFrame,
  type Frame,
  type ModbusRequest,
  type StreamEvent,
} from '../protocol';
import { LinkError, asError, errorMessage } from './errors';
import { log } from '../log';
import { describeWireEvent, type WireEvent } from './trace';
import { createTransport, isTcpPort, portKey, type Transport, type TransportOptions } from './transport';

export type Priority = 'interactive' | 'polling' | 'background';
const PRIORITIES: readonly Priority[] = ['interactive', 'polling', 'background'];

export interface LinkOptions {
  /** Serial device path or `tcp://host:port` of an RS232/RS485-to-Ethernet gateway. */
  readonly port: string;
  readonly baudRate?: number;
  /** Silence allowed before a reply (and between its bytes) before the attempt fails. */
  readonly timeoutMs?: number;
  /** Quiet time on the bus between the end of one exchange (the last byte heard) and the next request. */
  readonly gapMs?: number;
  /**
   * After a timeout or a damaged reply the line is dirty: nothing is sent until it has been quiet this
   * long, and whatever arrives meanwhile (a late reply) is discarded and counted.
   */
  readonly settleMs?: number;
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

/**
 * A request whose reply cannot be taken for the reply to a request that timed out: once it is
 * answered, the bus is in step again (a BMS answers in order), see `RequestOptions.sync`.
 */
export interface SyncRequest {
  readonly text: string;
  readonly shape: readonly string[];
  readonly accept: (reply: Frame, text: string) => boolean;
}

/**
 * How a request travels: an ASCII frame ending in CR, a Modbus RTU frame (serial, or raw over a
 * transparent TCP gateway), or a Modbus PDU in an MBAP header (a Modbus-TCP gateway).
 */
export type Framing = 'ascii' | 'rtu' | 'mbap';

/** A Modbus reply as the link received it: who sent it and its PDU (the CRC or MBAP header already checked). */
export interface ModbusFrame {
  readonly unit: number;
  readonly pdu: Uint8Array;
  /** The MBAP transaction it answers (Modbus-TCP only). */
  readonly transaction?: number;
}

type LinkFrame = Frame | ModbusFrame;

/** What received bytes become: the ASCII parser's events, or a Modbus frame in the same form. */
type LinkEvent = StreamEvent | { readonly type: 'frame'; readonly text: string; readonly frame: ModbusFrame };

const isModbusFrame = (frame: LinkFrame): frame is ModbusFrame => 'pdu' in frame;

export interface ModbusRequestOptions {
  readonly priority?: Priority;
  readonly timeoutMs?: number;
  readonly retries?: number;
  /** Whether a reply from the asked unit answers this request (its PDU fits); the default takes any. */
  readonly accept?: (reply: ModbusFrame) => boolean;
  /**
   * Other reads of the same unit whose replies cannot be taken for this one's (another register
   * count): sent first when a late reply could still be mistaken for this request's answer.
   */
  readonly sync?: readonly ModbusRequest[];
  readonly session?: LinkSession;
  readonly signal?: AbortSignal;
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
  /**
   * What the reply looks like on the wire (`bytes:8`, `analog`, …): two requests whose shapes share
   * an entry have replies `accept` cannot tell apart. Without a shape the request takes part in no
   * bookkeeping of late replies (probes that accept anything).
   */
  readonly shape?: readonly string[];
  /**
   * Candidates to send first when this request's reply could be mistaken for the late reply of a
   * request that timed out: the first whose shape is not in doubt is sent, and once it is answered
   * the bus is in step. Without a usable one the request fails unsent.
   */
  readonly sync?: readonly SyncRequest[];
  /** The exclusive session the request belongs to (see `BmsLink.exclusive`). */
  readonly session?: LinkSession;
  /**
   * Abandon the request: a waiting one is dropped, one on the wire is left to finish there (its
   * reply is swallowed); either way the promise rejects at once.
   */
  readonly signal?: AbortSignal;
}

export interface Reply<F = Frame> {
  readonly text: string;
  readonly frame: F;
  readonly attempts: number;
  readonly elapsedMs: number;
  /** Frames discarded while this request waited for its reply (late, foreign or damaged ones). */
  readonly discarded: number;
}

export type LinkState = 'idle' | 'connecting' | 'connected' | 'disconnected' | 'closed';

export interface LinkStats {
  framesOk: number;
  timeouts: number;
  checksumErrors: number;
  frameErrors: number;
  retries: number;
  echoes: number;
  /** Complete frames the request waiting at that moment did not accept. */
  foreign: number;
  /** Complete frames that arrived while no request was waiting (a late reply, during a gap or settling). */
  late: number;
  /** Requests sent first to prove the bus is in step after a timeout. */
  syncs: number;
  /** Requests failed without being sent because no sync request was answered. */
  unsent: number;
  garbageBytes: number;
  bytesIn: number;
  bytesOut: number;
  reconnects: number;
}

/**
 * A stretch of time in which only one user's requests go on the bus (a maintenance job between
 * its reads and its writes): anything that disturbs the bus meanwhile is that user's to judge.
 */
export class LinkSession {
  private readonly start: number;

  constructor(readonly link: BmsLink) {
    this.start = link.disturbances;
  }

  /** Timeouts, late, foreign and damaged frames on the bus since the session began. */
  get disturbances(): number {
    return this.link.disturbances - this.start;
  }

  request(text: string, options: Omit<RequestOptions, 'session'> = {}): Promise<Reply> {
    return this.link.request(text, { ...options, session: this });
  }

  requestModbus(
    request: ModbusRequest,
    options: Omit<ModbusRequestOptions, 'session'> = {},
  ): Promise<Reply<ModbusFrame>> {
    return this.link.requestModbus(request, { ...options, session: this });
  }
}

interface Job {
  /** The frame as text: ASCII without its CR, Modbus as hex bytes. */
  readonly text: string;
  readonly framing: Framing;
  /** Header ADR of the request (the Modbus unit). */
  readonly address: number;
  readonly priority: Priority;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly accept: (reply: LinkFrame, text: string) => boolean;
  readonly shape: readonly string[];
  readonly sync: readonly InternalSync[];
  readonly session: LinkSession | undefined;
  readonly resolve: (reply: Reply<LinkFrame>) => void;
  readonly reject: (err: Error) => void;
  /** A sync request the link sent on its own. */
  readonly internal: boolean;
  attempts: number;
  /** Sync requests sent so far to clear the way for this one. */
  syncs: number;
  /** Its caller gave up (aborted): nothing is reported to it any more. */
  abandoned: boolean;
  discarded: number;
  lastError?: Error;
}

/** A sync request as the link sends it, either framing. */
interface InternalSync {
  readonly text: string;
  readonly framing: Framing;
  readonly address: number;
  readonly shape: readonly string[];
  readonly accept: (reply: LinkFrame, text: string) => boolean;
}

interface PendingReply {
  readonly text: string;
  readonly address: number;
  readonly shape: readonly string[];
  readonly until: number;
}

/** Requests to 00 / FF may be answered from any address (PACE RS232 answers with its own DIP). */
const ANY_ADDRESS = (address: number): boolean => address === 0x00 || address === 0xff;
/** Whether a reply to a request at `a` could come from the device asked at `b`. */
const sameDevice = (a: number, b: number): boolean => a === b || ANY_ADDRESS(a) || ANY_ADDRESS(b);
const overlaps = (a: readonly string[], b: readonly string[]): boolean => a.some((x) => b.includes(x));

/**
 * Read holds (see `holdReading`): at most this many characters gathered in the kernel (its tty
 * buffer holds 4 KB), not worth it below this many ms, ending this many characters after the
 * frame's last one should have arrived: the rest of the frame comes in one read, its end noticed
 * about 4 ms late at 9600 Bd (a USB adapter's last piece may come later still: one more read).
 */
const MAX_HELD_CHARS = 2048;
const MIN_READ_HOLD_MS = 10;
const READ_HOLD_LATE_CHARS = 4;
/** Requests whose last reply length is remembered for read holds (a poll cycle uses a few; relay mode two per pack). */
const REMEMBERED_REPLY_LENGTHS = 64;

/** Least quiet time before a Modbus request. */
const MODBUS_GAP_MS = 110;

/** Sync requests a request may wait for before it fails unsent. */
const MAX_SYNCS = 2;

const DEFAULTS = {
  baudRate: 9600,
  timeoutMs: 1000,
  gapMs: 50,
  settleMs: 500,
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
 *
 * A reply is never taken as the answer to another request. PACE replies do not say which command
 * they answer, so this rests on timing and shape:
 * - a request goes out only after the line has been quiet for the gap (never into a reply still
 *   arriving), and after a timeout or a damaged reply only after it has been quiet for the settle
 *   time; frames arriving meanwhile are discarded;
 * - a reply must fit its request (`accept`: address, layout, length);
 * - after a timeout, a request whose reply has the same shape as the one that timed out is sent only
 *   once the bus has answered a request of another shape (a `sync`): every earlier reply has then
 *   arrived or never will.
 */
/** What a link tells its listeners. */
export interface LinkEvents {
  connected: [];
  disconnected: [LinkError];
  /** ms until the next attempt to open the port. */
  reconnecting: [number];
  error: [Error];
  closed: [];
  /** Every frame and what became of it (see `WireEvent`). */
  wire: [WireEvent];
}

export class BmsLink extends EventEmitter<LinkEvents> {
  readonly port: string;
  readonly key: string;
  readonly stats: LinkStats = {
    framesOk: 0,
    timeouts: 0,
    checksumErrors: 0,
    frameErrors: 0,
    retries: 0,
    echoes: 0,
    foreign: 0,
    late: 0,
    syncs: 0,
    unsent: 0,
    garbageBytes: 0,
    bytesIn: 0,
    bytesOut: 0,
    reconnects: 0,
  };

  private readonly options: Required<Omit<LinkOptions, 'transportFactory'>>;
  private readonly makeTransport: (port: string, options: TransportOptions) => Transport;
  private readonly parser = new FrameStreamParser();
  private readonly rtu = new RtuStreamFramer();
  private readonly mbap = new MbapStreamFramer();
  /** How Modbus requests travel on this port: MBAP on a `modbus-tcp://` gateway, RTU everywhere else. */
  readonly modbusFraming: 'rtu' | 'mbap';
  /** How the request on the bus (or the last one) travels: received bytes are framed the same way. */
  private framing: Framing = 'ascii';
  private transaction = 0;
  /** Noise received since the last request went out: a Modbus reply damaged beyond framing shows as that. */
  private garbageSinceSend = 0;
  private readonly queues: Record<Priority, Job[]> = { interactive: [], polling: [], background: [] };
  private linkState: LinkState = 'idle';
  private transport: Transport | undefined;
  private current: Job | undefined;
  /**
   * ASCII requests and the length of their last reply (characters with CR): polls repeat the same
   * requests, and the reply's length is known from its first piece instead of its LENGTH field.
   */
  private readonly replyChars = new Map<string, number>();
  private sentAt = 0;
  private responseTimer: NodeJS.Timeout | undefined;
  /** Waits for the line to be quiet before the next request. */
  private holdTimer: NodeJS.Timeout | undefined;
  private holdSince: number | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectAttempt = 0;
  private closing: Promise<void> | undefined;
  private lastError = '';
  private timeoutsInARow = 0;
  /** When the last byte arrived, and when the last exchange ended (reply, timeout, damage). */
  private lastRxAt = 0;
  private lastEndAt = 0;
  /** A timeout or damaged reply happened: the next request waits until the line was quiet this long (0: just the gap). */
  private settleQuietMs = 0;
  /**
   * Requests whose reply may still come (they timed out or met a damaged frame), oldest first, with
   * their reply shape and until when a late reply is still expected.
   */
  private pending: PendingReply[] = [];
  private owner: LinkSession | undefined;
  private exclusiveTail: Promise<unknown> = Promise.resolve();

  /** Get the link of a port, opening it on first use; call `release()` when done. */
  static acquire(options: LinkOptions): BmsLink {
    const key = portKey(options.port);
    const entry = registry.get(key);
    if (entry) {
      const baud = options.baudRate ?? DEFAULTS.baudRate;
      if (entry.link.options.baudRate !== baud && !isTcpPort(key)) {
        throw new LinkError(
          'config',
          `${options.port} is already in use at ${entry.link.options.baudRate} Bd, not ${baud} Bd`,
        );
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
      settleMs: options.settleMs ?? DEFAULTS.settleMs,
      retries: options.retries ?? DEFAULTS.retries,
      queueLimit: options.queueLimit ?? DEFAULTS.queueLimit,
      reconnectMinMs: options.reconnectMinMs ?? DEFAULTS.reconnectMinMs,
      reconnectMaxMs: options.reconnectMaxMs ?? DEFAULTS.reconnectMaxMs,
      recycleAfterTimeouts: options.recycleAfterTimeouts ?? 0,
    };
    this.makeTransport = options.transportFactory ?? createTransport;
    this.modbusFraming = /^modbus-tcp:\/\//i.test(options.port) ? 'mbap' : 'rtu';
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
    return PRIORITIES.reduce((n, p) => n + this.queues[p].length, this.current && !this.current.internal ? 1 : 0);
  }

  /** Everything that disturbed the bus so far: timeouts, late, foreign and damaged frames. */
  get disturbances(): number {
    const s = this.stats;
    return s.timeouts + s.late + s.foreign + s.checksumErrors + s.frameErrors;
  }

  /** Open now instead of on the first request; resolves when connected or rejects with why not. */
  open(): Promise<void> {
    if (this.linkState === 'connected') return Promise.resolve();
    if (this.linkState === 'closed') return Promise.reject(new LinkError('closed', `${this.port} is closed`));
    return new Promise((resolve, reject) => {
      const onConnected = (): void => {
        cleanup();
        resolve();
      };
      const onError = (err: Error): void => {
        cleanup();
        reject(err);
      };
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
    let request: Frame;
    let sync: InternalSync[];
    try {
      request = parseFrame(text);
      sync = (options.sync ?? []).map((s) => ({
        text: s.text,
        framing: 'ascii' as const,
        address: parseFrame(s.text).address,
        shape: s.shape,
        accept: (f: LinkFrame, t: string) => !isModbusFrame(f) && s.accept(f, t),
      }));
    } catch (err) {
      return Promise.reject(asError(err));
    }
    const accept = options.accept ?? defaultAccept(request);
    return this.submit(
      {
        text,
        framing: 'ascii',
        address: request.address,
        accept: (f, t) => !isModbusFrame(f) && accept(f, t),
        shape: options.shape ?? [],
        sync,
      },
      options,
      (frame) => (isModbusFrame(frame) ? undefined : frame),
    );
  }

  /**
   * Send a Modbus request (RTU, or MBAP on a `modbus-tcp://` port) and wait for the reply from its
   * unit. An exception reply is a reply: the caller reads it from the PDU. Replies of one unit to
   * reads of one length cannot be told apart on RTU, so they share a shape (see `syncBefore`).
   */
  requestModbus(request: ModbusRequest, options: ModbusRequestOptions = {}): Promise<Reply<ModbusFrame>> {
    const framing = this.modbusFraming;
    const build = (r: ModbusRequest): { text: string; transaction?: number } => {
      if (framing === 'rtu') return { text: bytesHex(encodeRtuRequest(r)) };
      this.transaction = (this.transaction + 1) & 0xffff;
      return { text: bytesHex(encodeMbap(this.transaction, r.unit, encodePdu(r))), transaction: this.transaction };
    };
    const shapeOf = (r: ModbusRequest): string[] =>
      framing === 'mbap' ? [] : [`modbus:${String(r.function)}:${String(r.function === 3 ? r.count : r.start)}`];
    // The reply's unit, transaction, function and length (registers read, or the write it confirms) must fit.
    const fits =
      (r: ModbusRequest, transaction: number | undefined, extra?: (reply: ModbusFrame) => boolean) =>
      (f: LinkFrame): boolean => {
        if (!isModbusFrame(f) || f.unit !== r.unit) return false;
        if (transaction !== undefined && f.transaction !== transaction) return false;
        try {
          decodeReplyPdu(r, f.pdu);
        } catch {
          return false;
        }
        return extra ? extra(f) : true;
      };
    let built: { text: string; transaction?: number };
    let sync: InternalSync[];
    try {
      built = build(request);
      sync = (options.sync ?? []).map((r) => {
        const b = build(r);
        return { text: b.text, framing, address: r.unit, shape: shapeOf(r), accept: fits(r, b.transaction) };
      });
    } catch (err) {
      return Promise.reject(asError(err));
    }
    return this.submit(
      {
        text: built.text,
        framing,
        address: request.unit,
        accept: fits(request, built.transaction, options.accept),
        shape: shapeOf(request),
        sync,
      },
      options,
      (frame) => (isModbusFrame(frame) ? frame : undefined),
    );
  }

  private submit<F extends LinkFrame>(
    spec: Pick<Job, 'text' | 'framing' | 'address' | 'accept' | 'shape' | 'sync'>,
    options: {
      readonly priority?: Priority;
      readonly timeoutMs?: number;
      readonly retries?: number;
      readonly session?: LinkSession;
      readonly signal?: AbortSignal;
    },
    narrow: (frame: LinkFrame) => F | undefined,
  ): Promise<Reply<F>> {
    if (this.linkState === 'closed') return Promise.reject(new LinkError('closed', `${this.port} is closed`));
    if (this.linkState === 'disconnected') {
      return Promise.reject(
        new LinkError(
          'disconnected',
          `${this.port} is not connected${this.lastError ? ` (${this.lastError})` : ''}; reconnecting`,
        ),
      );
    }
    if (this.queueLength >= this.options.queueLimit) {
      return Promise.reject(
        new LinkError('queue-full', `${this.port}: ${this.options.queueLimit} requests already waiting`),
      );
    }
    if (options.signal?.aborted) return Promise.reject(abortError(this.port));
    const signal = options.signal;
    return new Promise((resolve, reject) => {
      const priority = options.priority ?? 'polling';
      // The listener goes with the request: a poller's signal serves thousands of them.
      const onAbort = (): void => {
        this.abandon(job);
      };
      const done = (): void => {
        signal?.removeEventListener('abort', onAbort);
      };
      const job: Job = {
        ...spec,
        priority,
        timeoutMs: options.timeoutMs ?? this.options.timeoutMs,
        retries: options.retries ?? this.options.retries,
        session: options.session,
        resolve: (reply) => {
          done();
          const frame = narrow(reply.frame);
          // `accept` let through only frames of the request's own framing.
          if (frame) resolve({ ...reply, frame });
          else reject(new LinkError('closed', `${this.port}: a reply of another protocol was taken`));
        },
        reject: (err) => {
          done();
          reject(err);
        },
        internal: false,
        attempts: 0,
        syncs: 0,
        abandoned: false,
        discarded: 0,
      };
      this.queues[priority].push(job);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (this.linkState === 'idle') this.connect();
      else this.pump();
    });
  }

  /**
   * Run `fn` with the bus to itself: requests of its session go out, everyone else's wait until it
   * ends. Sessions run one after another in the order asked.
   */
  exclusive<T>(fn: (session: LinkSession) => Promise<T>): Promise<T> {
    const run = this.exclusiveTail.then(async () => {
      const session = new LinkSession(this);
      this.owner = session;
      try {
        return await fn(session);
      } finally {
        this.owner = undefined;
        this.pump();
      }
    });
    this.exclusiveTail = run.catch(() => undefined);
    return run;
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
    transport.on('data', (data: Buffer) => {
      this.onData(data);
    });
    transport.on('close', (err?: Error) => {
      this.onLost(transport, err);
    });
    void this.openTransport(transport);
  }

  private async openTransport(transport: Transport): Promise<void> {
    try {
      await transport.open();
    } catch (err) {
      if (this.transport !== transport || this.linkState === 'closed') return;
      transport.removeAllListeners();
      this.transport = undefined;
      const error =
        err instanceof LinkError ? err : new LinkError('open-failed', `cannot open ${this.port}: ${errorMessage(err)}`);
      this.lastError = error.message;
      this.linkState = 'disconnected';
      this.failAll(error);
      log.link('%s', error.message);
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
    log.link('%s open at %d Bd', this.port, this.options.baudRate);
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
    log.link('%s', this.lastError);
    if (wasConnected) this.emit('disconnected', new LinkError('disconnected', this.lastError));
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.linkState === 'closed') return;
    const base = Math.min(this.options.reconnectMaxMs, this.options.reconnectMinMs * 2 ** this.reconnectAttempt);
    this.reconnectAttempt++;
    // Jitter so that links to one gateway do not retry in lockstep.
    const delay = Math.round(base * (1 + Math.random() * 0.2));
    log.link('%s: reconnecting in %d ms', this.port, delay);
    this.emit('reconnecting', delay);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.stats.reconnects++;
      this.connect();
    }, delay);
  }

  private abandon(job: Job): void {
    if (job.abandoned) return;
    job.abandoned = true;
    const queue = this.queues[job.priority];
    if (queue.includes(job)) this.dequeue(job);
    job.reject(abortError(this.port));
    this.pump();
  }

  /** The next job allowed on the bus: the session's only, while one holds it. */
  private nextJob(): Job | undefined {
    for (const priority of PRIORITIES) {
      const job = this.queues[priority].find((j) => this.owner === undefined || j.session === this.owner);
      if (job) return job;
    }
    return undefined;
  }

  private dequeue(job: Job): void {
    const queue = this.queues[job.priority];
    queue.splice(queue.indexOf(job), 1);
  }

  private pump(): void {
    if (this.linkState !== 'connected' || this.current || this.holdTimer) return;
    const job = this.nextJob();
    if (!job) return;
    const now = Date.now();
    // PACE Modbus asks for more than 100 ms between frames (docs/pace-modbus.md#link-layer).
    const quiet = Math.max(this.settleQuietMs, this.options.gapMs, job.framing === 'ascii' ? 0 : MODBUS_GAP_MS);
    // Never into a frame still arriving (bytes heard within the quiet time), and never from inside
    // the handling of received bytes: the rest of that chunk arrived before this request.
    const readyAt = Math.max(this.lastRxAt, this.lastEndAt) + quiet;
    if (readyAt >= now) {
      // A line that never goes quiet (another master on the bus) must not stop us for ever.
      this.holdSince ??= now;
      const limit = this.holdSince + 2 * this.options.timeoutMs + quiet;
      if (now < limit) {
        this.holdTimer = setTimeout(
          () => {
            this.holdTimer = undefined;
            this.pump();
          },
          Math.max(1, Math.min(readyAt, limit) - now),
        );
        return;
      }
    }
    this.holdSince = undefined;
    this.settleQuietMs = 0;
    this.pending = this.pending.filter((p) => p.until > now);
    const sync = this.syncBefore(job);
    if (sync === null) {
      this.dequeue(job);
      this.stats.unsent++;
      job.reject(
        new LinkError(
          'timeout',
          `${this.port}: not sent: a late reply to an earlier request could still be taken for its answer, and the bus did not answer ${job.syncs} request(s) to bring it back in step`,
        ),
      );
      this.pump();
      return;
    }
    if (sync) {
      job.syncs++;
      this.stats.syncs++;
      this.current = {
        text: sync.text,
        framing: sync.framing,
        address: sync.address,
        priority: job.priority,
        timeoutMs: this.options.timeoutMs,
        retries: 0,
        accept: sync.accept,
        shape: sync.shape,
        sync: [],
        session: job.session,
        resolve: () => undefined,
        reject: () => undefined,
        internal: true,
        attempts: 0,
        syncs: 0,
        abandoned: false,
        discarded: 0,
      };
    } else {
      this.dequeue(job);
      this.current = job;
    }
    this.send(this.current);
  }

  /**
   * What must go before `job`: nothing (undefined) when no pending reply can be taken for its
   * reply; else a sync request whose own reply cannot be taken for any of those (so once it is
   * answered, they are over: a BMS answers in order); null when there is none left to try.
   */
  private syncBefore(job: Job): InternalSync | undefined | null {
    // A late answer to the very same request (an earlier attempt) answers this one too.
    const mine = this.pending.filter((p) => sameDevice(p.address, job.address));
    let last = -1;
    mine.forEach((p, i) => {
      if (p.text !== job.text && overlaps(p.shape, job.shape)) last = i;
    });
    if (last < 0) return undefined;
    if (job.syncs >= MAX_SYNCS) return null;
    const before = mine.slice(0, last + 1);
    return job.sync.find((candidate) => before.every((p) => !overlaps(p.shape, candidate.shape))) ?? null;
  }

  /**
   * A frame's fate, to whoever listens (`wire` event: capture, Node-RED's trace log) and to
   * `DEBUG=lfp-bms:frames`. Costs one check per frame when nobody does.
   */
  private trace(event: WireEvent): void {
    if (this.listenerCount('wire') > 0) this.emit('wire', event);
    if (log.frames.enabled) log.frames(describeWireEvent(this.port, event));
  }

  private send(job: Job): void {
    const transport = this.transport;
    if (!transport) return;
    job.attempts++;
    // Whatever half frame is still buffered (a line that never went quiet) is noise now.
    this.stats.garbageBytes += this.bufferedBytes();
    this.parser.reset();
    this.rtu.reset();
    this.mbap.reset();
    this.framing = job.framing;
    this.garbageSinceSend = 0;
    let wire: string;
    if (job.framing === 'ascii') {
      this.parser.expectEcho(job.text);
      wire = `${job.text}\r`;
    } else {
      const bytes = Uint8Array.from(job.text.split(' ').map((b) => parseInt(b, 16)));
      if (job.framing === 'rtu') this.rtu.expect(decodeRtuRequest(bytes), bytes);
      wire = Buffer.from(bytes).toString('latin1');
    }
    this.sentAt = Date.now();
    this.armResponseTimer(job.timeoutMs);
    this.stats.bytesOut += wire.length;
    this.trace({ at: this.sentAt, dir: 'tx', kind: 'request', text: job.text });
    transport.write(wire).catch((err: unknown) => {
      this.onLost(transport, asError(err));
    });
  }

  /**
   * One timer per attempt. Long replies at low baud take seconds on the wire: while a frame is
   * arriving, silence since its last byte (not the total time) ends the attempt, within a hard
   * limit of the timeout plus the longest frame's wire time. Checked when the timer fires, so
   * chunks arriving cost nothing here.
   */
  private armResponseTimer(ms: number): void {
    this.responseTimer = setTimeout(
      () => {
        this.responseTimer = undefined;
        const job = this.current;
        if (!job) return;
        const now = Date.now();
        const hardLimit =
          this.sentAt + job.timeoutMs + Math.ceil(((MAX_FRAME_CHARS + 1) * 10 * 1000) / this.options.baudRate);
        const silentFor = now - Math.max(this.sentAt, this.lastRxAt);
        if (this.bufferedBytes() > 0 && silentFor < job.timeoutMs && now < hardLimit) {
          this.armResponseTimer(Math.min(job.timeoutMs - silentFor, hardLimit - now));
          return;
        }
        this.onTimeout(job, now);
      },
      Math.max(0, ms),
    );
  }

  private onTimeout(job: Job, now: number): void {
    this.stats.timeouts++;
    this.trace({
      at: now,
      dir: 'none',
      kind: 'timeout',
      text: job.text,
      error: `no reply within ${String(job.timeoutMs)} ms`,
    });
    this.timeoutsInARow++;
    this.lineDirty(job, now);
    // A Modbus reply with a bad CRC gives no frame, only noise: the attempt ends in silence, and says why.
    const damaged = job.framing !== 'ascii' && (this.rtu.damaged > 0 || this.garbageSinceSend > 0);
    if (damaged) this.stats.checksumErrors++;
    this.attemptFailed(
      job,
      new LinkError(
        'timeout',
        damaged
          ? `the reply from ${this.port} was damaged (no good reply within ${String(job.timeoutMs)} ms)`
          : `no reply from ${this.port} within ${String(job.timeoutMs)} ms`,
      ),
    );
    const limit = this.options.recycleAfterTimeouts;
    if (limit > 0 && this.timeoutsInARow >= limit && this.transport) {
      this.timeoutsInARow = 0;
      this.onLost(this.transport, new Error(`no reply to ${limit} requests in a row: reconnecting`));
    }
  }

  /**
   * An attempt ended without its reply: the reply may still come. Until the bus proves it is in
   * step, requests whose replies look like this one's are held back (see `pump`).
   */
  private lineDirty(job: Job, now: number): void {
    // A request given a short timeout expects a quick device: its late reply is due soon too.
    this.settleQuietMs = Math.max(this.settleQuietMs, Math.min(this.options.settleMs, job.timeoutMs));
    this.lastEndAt = now;
    if (job.shape.length > 0)
      this.pending.push({
        text: job.text,
        address: job.address,
        shape: job.shape,
        until: now + this.options.settleMs + 3 * job.timeoutMs,
      });
  }

  /** Bytes of a frame still being received, in whichever framing the link now listens for. */
  private bufferedBytes(): number {
    return this.framing === 'ascii'
      ? this.parser.bufferedChars
      : this.framing === 'rtu'
        ? this.rtu.bufferedBytes
        : this.mbap.bufferedBytes;
  }

  /** Received bytes as frames of the framing of the request on the bus (or the last one). */
  private frames(data: Buffer): readonly LinkEvent[] {
    if (this.framing === 'ascii') return this.parser.push(data);
    if (this.framing === 'mbap')
      return this.mbap.push(data).map((e): LinkEvent => {
        if (e.type === 'garbage') return e;
        const frame: ModbusFrame = { unit: e.unit, pdu: e.pdu, transaction: e.transaction };
        return { type: 'frame', text: bytesHex(e.bytes), frame };
      });
    return this.rtu.push(data).map((e): LinkEvent => {
      if (e.type === 'garbage') return e;
      if (e.type === 'echo') return { type: 'echo', text: bytesHex(e.bytes) };
      return { type: 'frame', text: bytesHex(e.bytes), frame: { unit: e.unit, pdu: e.pdu } };
    });
  }

  private onData(data: Buffer): void {
    this.stats.bytesIn += data.length;
    this.lastRxAt = Date.now();
    this.handleEvents(this.frames(data));
    this.holdReading();
  }

  /**
   * Bytes arrive in pieces of a few bytes at low baud rates (a USB adapter's latency timer), and
   * every piece costs a read, an event and a wake-up. While a long reply is arriving and its length
   * is known, let its bytes gather in the kernel and take them in a few large reads instead, waking
   * up just after its end should have arrived (the end is noticed about one piece later).
   */
  private holdReading(): void {
    const remaining =
      this.framing === 'ascii'
        ? (this.parser.remainingChars ?? this.expectedRemainingChars())
        : this.framing === 'rtu'
          ? this.rtu.remainingBytes
          : undefined;
    const transport = this.transport;
    if (remaining === undefined || !this.current || !transport?.pauseReading) return;
    const charMs = 10_000 / this.options.baudRate;
    // Never near the response timeout: silence while a frame arrives is what ends an attempt.
    const holdMs = Math.min(
      this.current.timeoutMs / 4,
      Math.min(remaining + READ_HOLD_LATE_CHARS, MAX_HELD_CHARS) * charMs,
    );
    if (holdMs >= MIN_READ_HOLD_MS) transport.pauseReading(holdMs);
  }

  /**
   * Before a reply's LENGTH field is in (its first piece holds about 9 of the 13 header characters):
   * the characters still to come if it is as long as the last reply to the same request. Only a
   * guess for how long to let bytes gather — a reply of another length is read when the hold ends,
   * the rest of it held by its own LENGTH field — and it saves a wake-up per reply.
   */
  private expectedRemainingChars(): number | undefined {
    const received = this.parser.bufferedChars;
    const expected = this.current ? this.replyChars.get(this.current.text) : undefined;
    return received > 0 && expected !== undefined && expected > received ? expected - received : undefined;
  }

  private rememberReplyLength(request: string, chars: number): void {
    if (this.replyChars.get(request) === chars) return;
    // Oldest first out: a Map iterates in insertion order.
    this.replyChars.delete(request);
    if (this.replyChars.size >= REMEMBERED_REPLY_LENGTHS) {
      const oldest = this.replyChars.keys().next();
      if (!oldest.done) this.replyChars.delete(oldest.value);
    }
    this.replyChars.set(request, chars);
  }

  private handleEvents(events: readonly LinkEvent[]): void {
    for (const event of events) {
      switch (event.type) {
        case 'garbage':
          this.stats.garbageBytes += event.bytes;
          this.garbageSinceSend += event.bytes;
          break;
        case 'echo':
          this.stats.echoes++;
          break;
        case 'error': {
          if (event.error.kind === 'checksum' || event.error.kind === 'lchksum') this.stats.checksumErrors++;
          else this.stats.frameErrors++;
          this.trace({ at: this.lastRxAt, dir: 'rx', kind: 'damaged', text: event.text, error: event.error.message });
          const job = this.current;
          if (job) {
            // Ours or a late one, damaged: either way the bus is in doubt until a sync.
            job.discarded++;
            this.lineDirty(job, this.lastRxAt);
            this.attemptFailed(job, event.error);
          }
          break;
        }
        case 'frame': {
          const job = this.current;
          if (!job) {
            this.stats.late++;
            this.trace({ at: this.lastRxAt, dir: 'rx', kind: 'late', text: event.text });
          } else if (!job.accept(event.frame, event.text)) {
            this.stats.foreign++;
            job.discarded++;
            this.trace({ at: this.lastRxAt, dir: 'rx', kind: 'foreign', text: event.text });
          } else {
            this.trace({
              at: this.lastRxAt,
              dir: 'rx',
              kind: 'reply',
              text: event.text,
              ms: this.lastRxAt - this.sentAt,
            });
            this.complete(job, event.text, event.frame);
          }
          break;
        }
      }
    }
  }

  private complete(job: Job, text: string, frame: LinkFrame): void {
    const now = Date.now();
    if (job.framing === 'ascii') this.rememberReplyLength(job.text, text.length + 1);
    this.timeoutsInARow = 0;
    this.clearResponseTimer();
    this.current = undefined;
    this.lastEndAt = now;
    this.stats.framesOk++;
    // A BMS answers in order: whatever it had pending before the first request this reply could
    // belong to is over (all of it, when no pending reply looks like this one).
    if (job.shape.length > 0) {
      const first = this.pending.findIndex((p) => sameDevice(p.address, job.address) && overlaps(p.shape, job.shape));
      this.pending = this.pending.filter((p, i) => !sameDevice(p.address, job.address) || (first >= 0 && i >= first));
    }
    if (!job.internal && !job.abandoned)
      job.resolve({ text, frame, attempts: job.attempts, elapsedMs: now - this.sentAt, discarded: job.discarded });
    this.pump();
  }

  /** A timeout or a damaged reply: retry while attempts remain, else fail. */
  private attemptFailed(job: Job, error: Error): void {
    this.clearResponseTimer();
    this.current = undefined;
    job.lastError = error;
    if (job.internal || job.abandoned) {
      // A sync that failed: the request it was for tries another one, or fails unsent.
    } else if (job.attempts <= job.retries) {
      this.stats.retries++;
      this.queues[job.priority].unshift(job);
    } else {
      job.reject(
        error instanceof FrameError
          ? new FrameError(error.kind, `${error.message} (after ${job.attempts} attempts)`)
          : error,
      );
    }
    this.pump();
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
    if (this.holdTimer) clearTimeout(this.holdTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.holdTimer = undefined;
    this.holdSince = undefined;
    this.reconnectTimer = undefined;
  }
}

function abortError(port: string): LinkError {
  return new LinkError('closed', `${port}: request abandoned`);
}

/**
 * A reply belongs to a request when it has the request's CID1 and comes from the addressed pack.
 * Requests to ADR 00 or FF may be answered by any address (PACE RS232 answers with its own DIP).
 */
export function defaultAccept(request: Frame): (reply: Frame) => boolean {
  return (reply) =>
    reply.cid1 === request.cid1 &&
    (request.address === 0x00 || request.address === 0xff || reply.address === request.address);
}
