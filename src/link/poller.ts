import { EventEmitter } from 'node:events';
import {
  ALL_PACKS,
  FrameError,
  type PackAlarms,
  type PackAnalog,
  type PackChargeLimits,
  type PackIdentity,
} from '../protocol';
import type { PollClient, PollResult } from './client';
import type { BankMode } from './detect';
import { log } from '../log';
import { LinkError, asError } from './errors';

/**
 * `offline`: this pack stopped answering (or its master reports it unreachable) while others still
 * answer. `asleep`: nothing on the bus answers at all — a sleeping BMS, or the cable.
 */
export type PackStatus = 'online' | 'offline' | 'asleep';

export interface PackReading {
  readonly pack: number;
  /** Last good values; `ageMs` says how old they are. */
  readonly analog: PackAnalog | null;
  readonly alarms: Omit<PackAlarms, 'pack'> | null;
  readonly identity: PackIdentity | null;
  /** The BMS's own charge limits, for packs that report them (Pylontech 0x92). */
  readonly limits: PackChargeLimits | null;
  /** `status` is `online` and there are values: the pack counts. */
  readonly online: boolean;
  readonly status: PackStatus;
  /** Age of `analog` when this reading was made; null before the first good read. */
  readonly ageMs: number | null;
  /**
   * How long this pack may stay silent before it is offline: the configured number of poll
   * intervals, each the configured interval or the time a cycle really takes, whichever is longer.
   * Values older than this are not to be used, whatever `online` said when the reading was made.
   */
  readonly staleAfterMs: number;
  readonly updatedAt: number | null;
  readonly consecutiveFailures: number;
  readonly error?: string;
}

export interface BankCycle {
  readonly mode: BankMode;
  readonly startedAt: number;
  readonly durationMs: number;
  readonly packs: readonly PackReading[];
}

export interface PollerOptions {
  readonly mode: BankMode;
  /** Broadcast: the pack numbers the master reports. Relay: the addresses to poll. */
  readonly packs: readonly number[];
  readonly intervalMs?: number;
  /** Read alarms every cycle, or only when the analog reply's INFOFLAG reports a change. */
  readonly alarms?: 'every' | 'onchange';
  /** Poll intervals a pack must be silent (and asked in vain) before it is reported offline. */
  readonly offlineAfter?: number;
  /** An offline pack is retried every N cycles instead of every cycle. */
  readonly offlineRetryEvery?: number;
  /** After this much bus silence a harmless request goes first, to wake packs that sleep. */
  readonly wakeAfterIdleMs?: number;
  /** Read firmware / serial once per pack. */
  readonly identity?: boolean;
}

interface PackState {
  pack: number;
  analog: PackAnalog | null;
  alarms: Omit<PackAlarms, 'pack'> | null;
  identity: PackIdentity | null;
  identityTried: boolean;
  limits: PackChargeLimits | null;
  /** 0x92 answered "unsupported" (RTN 04) or failed to decode: not asked again. */
  limitsUnsupported: boolean;
  updatedAt: number | null;
  /** When polling of this pack began: silence before the first answer counts from here. */
  readonly since: number;
  failures: number;
  status: PackStatus;
  error?: string;
  alarmsDue: boolean;
  skipCycles: number;
  /** Asked and failed in the cycle now ending. */
  failedThisCycle: boolean;
}

/**
 * Polls a bank, either through the master ("all packs" requests) or pack by pack, fairly and at
 * most one cycle at a time. Emits `pack` for every pack of every cycle, `cycle` after each pass,
 * `offline` / `online` / `asleep` when a pack's status changes, and `packs` when the master starts
 * reporting packs that were not polled before (they are polled from then on).
 *
 * A pack goes offline only once it has been silent for `offlineAfter` poll intervals (default 3) and
 * was asked in vain meanwhile: one lost poll never drops it, and a slow relay cycle stretches the interval.
 */
/** What a poller tells its listeners. */
export interface PollerEvents {
  cycle: [BankCycle];
  /** Each pack's reading, every cycle. */
  pack: [PackReading];
  /** A pack answering again, going silent, or the whole bus asleep. */
  online: [PackReading];
  offline: [PackReading];
  asleep: [PackReading];
  /** The master started reporting more packs: polled from now on. */
  packs: [{ added: number[]; packs: number[] }];
  error: [Error];
}

export class BankPoller extends EventEmitter<PollerEvents> {
  private readonly options: Required<PollerOptions>;
  private readonly states = new Map<number, PackState>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** Aborted by stop(): requests waiting or on the wire are abandoned, a relay cycle ends. */
  private abort = new AbortController();
  private cycleCount = 0;
  private inFlight: Promise<BankCycle> | undefined;
  private lastAnswerAt = Date.now();
  /** How long the last cycle took (a relay cycle can outlast the interval). */
  private lastCycleMs = 0;

  constructor(
    private readonly client: PollClient,
    options: PollerOptions,
  ) {
    super();
    this.on('error', () => undefined);
    this.options = {
      mode: options.mode,
      packs: [...options.packs],
      intervalMs: options.intervalMs ?? 5000,
      alarms: options.alarms ?? 'every',
      offlineAfter: options.offlineAfter ?? 3,
      offlineRetryEvery: options.offlineRetryEvery ?? 5,
      wakeAfterIdleMs: options.wakeAfterIdleMs ?? 30_000,
      identity: options.identity ?? true,
    };
    for (const pack of this.options.packs) this.addPack(pack);
  }

  /** Silence after which a pack is offline (see `PackReading.staleAfterMs`). */
  get staleAfterMs(): number {
    return this.options.offlineAfter * Math.max(this.options.intervalMs, this.lastCycleMs);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    if (this.abort.signal.aborted) this.abort = new AbortController();
    this.schedule(0);
  }

  /**
   * Stop polling at once: the cycle in progress is abandoned (its requests leave the queue; one on
   * the wire finishes there unheard) and reports nothing more.
   */
  stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.abort.abort();
    return Promise.resolve();
  }

  /** Run a cycle now (or join the one in progress). */
  pollNow(): Promise<BankCycle> {
    if (this.abort.signal.aborted && !this.running) this.abort = new AbortController();
    this.inFlight ??= this.cycle(this.abort.signal).finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  readings(now = Date.now()): PackReading[] {
    return [...this.states.values()].map((s) => this.reading(s, now));
  }

  private addPack(pack: number): void {
    this.states.set(pack, {
      pack,
      analog: null,
      alarms: null,
      identity: null,
      identityTried: false,
      limits: null,
      limitsUnsupported: false,
      updatedAt: null,
      since: Date.now(),
      failures: 0,
      status: 'online',
      alarmsDue: true,
      skipCycles: 0,
      failedThisCycle: false,
    });
  }

  private schedule(delay: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tick();
    }, delay);
  }

  private async tick(): Promise<void> {
    const started = Date.now();
    try {
      await this.pollNow();
    } catch (err) {
      if (this.running) this.emit('error', asError(err));
    }
    this.schedule(Math.max(0, this.options.intervalMs - (Date.now() - started)));
  }

  private async cycle(signal: AbortSignal): Promise<BankCycle> {
    const startedAt = Date.now();
    this.cycleCount++;
    if (startedAt - this.lastAnswerAt > this.options.wakeAfterIdleMs) await this.wake(signal);
    if (this.options.mode === 'broadcast') await this.broadcastCycle(signal);
    else await this.relayCycle(signal);
    if (aborted(signal)) throw new LinkError('closed', 'polling stopped');
    const now = Date.now();
    this.lastCycleMs = now - startedAt;
    const packs = [...this.states.values()].map((s) => this.reading(s, now));
    for (const reading of packs) this.emit('pack', reading);
    const cycle = { mode: this.options.mode, startedAt, durationMs: now - startedAt, packs };
    if (log.poller.enabled)
      log.poller(
        'cycle %d (%s) in %d ms: %s',
        this.cycleCount,
        this.options.mode,
        cycle.durationMs,
        packs.map((p) => `${String(p.pack)}:${p.status}`).join(' '),
      );
    this.emit('cycle', cycle);
    return cycle;
  }

  /** Some BMS ignore the first request after a long quiet spell; its answer is not used. */
  private async wake(signal: AbortSignal): Promise<void> {
    const first = this.options.packs[0];
    if (first === undefined) return;
    try {
      await this.client.call(
        'analog',
        { pack: this.options.mode === 'broadcast' ? 1 : first },
        { address: first, retries: 0, priority: 'polling', signal },
      );
      this.lastAnswerAt = Date.now();
    } catch {
      // Silence is expected from a sleeping pack; the cycle that follows decides.
    }
  }

  private async broadcastCycle(signal: AbortSignal): Promise<void> {
    const expected = this.states.size;
    const analog = await this.attempt(() =>
      this.client.call('analog', { pack: ALL_PACKS }, { expectedPacks: expected, signal }),
    );
    if (aborted(signal)) return;
    if (analog instanceof Error) {
      for (const state of this.states.values()) this.failed(state, analog.message);
      this.settle(false);
      return;
    }
    this.lastAnswerAt = Date.now();
    const packs = analog.data.packs;
    this.takeInNewPacks(packs);
    const seen = new Set<number>();
    for (const pack of packs) {
      const state = this.states.get(pack.pack);
      if (!state) continue;
      seen.add(pack.pack);
      if (pack.online) this.succeeded(state, pack);
      else this.failed(state, `the master reports pack ${pack.pack} unreachable`);
    }
    for (const state of this.states.values()) {
      if (!seen.has(state.pack))
        this.failed(state, `pack ${state.pack} missing from the master's reply (${packs.length} packs)`);
    }
    this.settle(true);
    // Alarms and limits only for packs whose values came with this cycle.
    const answered = (state: PackState): boolean => state.failures === 0 && state.updatedAt !== null;
    if (this.alarmsWanted(analog)) {
      const alarms = await this.attempt(() =>
        this.client.call('alarms', { pack: ALL_PACKS }, { expectedPacks: expected, signal }),
      );
      if (!(alarms instanceof Error)) {
        for (const pack of alarms.data.packs) {
          const state = this.states.get(pack.pack);
          if (state && answered(state)) state.alarms = withoutPack(pack);
        }
      }
    }
    for (const state of this.states.values()) {
      if (answered(state) && !aborted(signal)) await this.readLimits(state, signal);
    }
    const master = this.states.get(1) ?? this.states.values().next().value;
    if (master && !aborted(signal)) await this.readIdentity(master, signal);
  }

  /** Online slots beyond the packs polled so far: the bank grew (a pack switched on, a DIP changed). */
  private takeInNewPacks(packs: readonly PackAnalog[]): void {
    const added = packs.filter((p) => p.online && !this.states.has(p.pack)).map((p) => p.pack);
    if (!added.length) return;
    for (const pack of added) this.addPack(pack);
    this.emit('packs', { added, packs: [...this.states.keys()].sort((a, b) => a - b) });
  }

  private async relayCycle(signal: AbortSignal): Promise<void> {
    const order = [...this.states.values()];
    // Rotate the starting pack so a slow or silent pack never always delays the same others.
    const start = order.length ? this.cycleCount % order.length : 0;
    let anyAnswer = false;
    for (const state of [...order.slice(start), ...order.slice(0, start)]) {
      if (aborted(signal)) break;
      if (state.status !== 'online' && state.skipCycles > 0) {
        state.skipCycles--;
        continue;
      }
      const analog = await this.attempt(() =>
        this.client.call('analog', { pack: state.pack }, { address: state.pack, signal }),
      );
      if (aborted(signal)) break;
      if (analog instanceof Error) {
        this.failed(state, analog.message);
        continue;
      }
      anyAnswer = true;
      this.lastAnswerAt = Date.now();
      const [pack] = analog.data.packs;
      if (!pack) {
        this.failed(state, 'reply without pack data');
        continue;
      }
      if (this.alarmsWanted(analog) || state.alarmsDue) {
        const alarms = await this.attempt(() =>
          this.client.call('alarms', { pack: state.pack }, { address: state.pack, signal }),
        );
        if (!(alarms instanceof Error)) {
          const [first] = alarms.data.packs;
          if (first) {
            state.alarms = withoutPack(first);
            state.alarmsDue = false;
          }
        }
      }
      this.succeeded(state, { ...pack, pack: state.pack });
      await this.readLimits(state, signal);
      await this.readIdentity(state, signal);
    }
    if (!aborted(signal)) this.settle(anyAnswer);
  }

  private alarmsWanted(analog: PollResult<unknown>): boolean {
    if (this.options.alarms === 'every') return true;
    // INFOFLAG bit 0: unread alarm change (Pylontech); every 10th cycle regardless, as a safety net.
    return analog.alarmsChanged || this.cycleCount % 10 === 1;
  }

  private async readLimits(state: PackState, signal: AbortSignal): Promise<void> {
    if (this.client.dialect !== 'pylontech' || state.limitsUnsupported) return;
    // Pylontech module n answers at address n + 1 (the bank's pack numbers count from 1); relay
    // polling already names packs by their address.
    const address = this.options.mode === 'relay' ? state.pack : state.pack + 1;
    const reply = await this.attempt(() =>
      this.client.call('chargeLimits', { pack: address }, { address, retries: 0, priority: 'background', signal }),
    );
    if (reply instanceof Error) {
      // An unsupported command stays unsupported; a timeout may be a busy bus, so ask again next time.
      if (reply instanceof FrameError && reply.kind === 'rtn') state.limitsUnsupported = true;
      return;
    }
    const d = reply.data;
    if (
      typeof d.chargeVoltage !== 'number' ||
      typeof d.chargeCurrent !== 'number' ||
      typeof d.dischargeCurrent !== 'number'
    ) {
      state.limitsUnsupported = true;
      return;
    }
    state.limits = {
      chargeVoltage: d.chargeVoltage,
      chargeCurrent: Math.abs(d.chargeCurrent),
      dischargeCurrent: -Math.abs(d.dischargeCurrent),
      chargeEnabled: d.chargeEnabled !== false,
      dischargeEnabled: d.dischargeEnabled !== false,
    };
  }

  private async readIdentity(state: PackState, signal: AbortSignal): Promise<void> {
    if (!this.options.identity || state.identityTried) return;
    state.identityTried = true;
    const identity: { -readonly [K in keyof PackIdentity]: PackIdentity[K] } = {};
    const address = this.options.mode === 'relay' ? state.pack : undefined;
    const at = { ...(address !== undefined ? { address } : {}), retries: 0, priority: 'background' as const, signal };
    if (this.client.dialect === 'pace' || this.client.dialect === 'pace-modbus') {
      const version = await this.attempt(() => this.client.call('version', {}, at));
      if (!(version instanceof Error) && version.data.version !== undefined) identity.firmware = version.data.version;
      const serial = await this.attempt(() => this.client.call('serial', {}, at));
      if (!(serial instanceof Error)) {
        const { bmsSerial, packSerial } = serial.data;
        if (bmsSerial !== undefined) identity.serial = bmsSerial;
        if (packSerial) identity.packSerial = packSerial;
      }
    } else {
      const info = await this.attempt(() => this.client.call('manufacturer', {}, at));
      if (!(info instanceof Error))
        identity.firmware = `${info.data.deviceName ?? ''} ${info.data.softwareVersion ?? ''}`.trim();
      if (this.client.dialect === 'pylontech') {
        const serial = await this.attempt(() => this.client.call('serial', { pack: state.pack }, at));
        if (!(serial instanceof Error) && serial.data.serial !== undefined) identity.serial = serial.data.serial;
      }
    }
    state.identity = identity;
  }

  private async attempt<D>(fn: () => Promise<PollResult<D>>): Promise<PollResult<D> | Error> {
    try {
      return await fn();
    } catch (err) {
      return asError(err);
    }
  }

  private succeeded(state: PackState, pack: PackAnalog): void {
    const wasDown = state.status !== 'online';
    state.analog = pack;
    state.updatedAt = Date.now();
    state.failures = 0;
    state.skipCycles = 0;
    delete state.error;
    state.status = 'online';
    if (wasDown) this.emit('online', this.reading(state, Date.now()));
  }

  private failed(state: PackState, error: string): void {
    state.failures++;
    state.error = error;
    state.alarmsDue = true;
    state.failedThisCycle = true;
  }

  /**
   * After a cycle, packs that failed and have been silent for the offline limit are `offline` when
   * something on the bus still answered, `asleep` when nothing did; either way they are retried at
   * the slower rate.
   */
  private settle(anyAnswer: boolean): void {
    const now = Date.now();
    const limit = this.staleAfterMs;
    const status: PackStatus = anyAnswer ? 'offline' : 'asleep';
    for (const state of this.states.values()) {
      const failed = state.failedThisCycle;
      state.failedThisCycle = false;
      if (!failed || now - (state.updatedAt ?? state.since) < limit) continue;
      state.skipCycles = this.options.offlineRetryEvery - 1;
      if (state.status !== status) {
        state.status = status;
        this.emit(status, this.reading(state, now));
      }
    }
  }

  private reading(state: PackState, now: number): PackReading {
    return {
      pack: state.pack,
      analog: state.analog,
      alarms: state.alarms,
      identity: state.identity,
      limits: state.limits,
      online: state.status === 'online' && state.analog !== null,
      status: state.status,
      ageMs: state.updatedAt === null ? null : now - state.updatedAt,
      staleAfterMs: this.staleAfterMs,
      updatedAt: state.updatedAt,
      consecutiveFailures: state.failures,
      ...(state.error !== undefined ? { error: state.error } : {}),
    };
  }
}

/** Read through a call: the flag changes while a cycle awaits, which narrowing would not see. */
function aborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

function withoutPack(pack: PackAlarms): Omit<PackAlarms, 'pack'> {
  const { pack: _, ...rest } = pack;
  return rest;
}

/** The canonical per-pack payload (`msg.payload` of bms-pack, `read --json`). */
export type PackPayload = Pick<
  PackReading,
  'pack' | 'analog' | 'alarms' | 'identity' | 'limits' | 'online' | 'status' | 'ageMs' | 'staleAfterMs'
>;

export function packPayload(reading: PackReading): PackPayload {
  return {
    pack: reading.pack,
    analog: reading.analog,
    alarms: reading.alarms,
    identity: reading.identity,
    limits: reading.limits,
    online: reading.online,
    status: reading.status,
    ageMs: reading.ageMs,
    staleAfterMs: reading.staleAfterMs,
  };
}
