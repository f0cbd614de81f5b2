import { EventEmitter } from 'node:events';
import type { PackInput } from '../bank';
import {
  decodeInverterFrame,
  encodePylonFrames,
  type CanFrame,
  type InverterFrame,
  type PylonFamily,
  type PylonValues,
} from '../protocol/pylon-can';
import { errorMessage } from '../errors';
import { InverterAnnouncer, type AnnouncerOptions, type Announcement } from './announcer';

/** Where the frames go: an slcan adapter (`SlcanBus`) or a test double. */
export interface CanPort extends EventEmitter {
  readonly isOpen: boolean;
  send(frame: CanFrame): Promise<boolean>;
}

export interface CanSenderOptions extends AnnouncerOptions {
  readonly family: PylonFamily;
  /** Send only while the inverter's keep-alive comes (families that have one). Default true. */
  readonly requireKeepAlive?: boolean;
  /** The keep-alive counts as gone after this long (Deye pauses up to 5 s at times). */
  readonly keepAliveTimeoutMs?: number;
  /**
   * Without a keep-alive, one set goes out this often so an inverter that speaks only after hearing
   * the battery (Deye answers only after 0x356) can start; 0: never.
   */
  readonly probeEveryMs?: number;
  /** Between two frames of a set: an adapter has few transmit buffers. */
  readonly frameGapMs?: number;
  readonly clock?: () => number;
}

/** What happened in one period, for the node's status and output. */
export interface SenderReport {
  readonly stage: Announcement['freshness']['stage'];
  readonly reason: string;
  readonly stalePacks: readonly number[];
  /** The inverter's keep-alive is current. */
  readonly linked: boolean;
  /** What went out this period: the set, a probe set, or nothing (and why). */
  readonly sent: 'set' | 'probe' | 'nothing';
  readonly why: string;
  readonly frames: number;
  readonly values: PylonValues | null;
  readonly packsOnline: number;
  readonly packsExpected: number;
}

export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 15_000;
export const DEFAULT_PROBE_EVERY_MS = 30_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends the bank to an inverter as one Pylon LV CAN battery, once per the family's period
 * (docs/inverter.md#safety): values from fresh packs only; with no fresh pack, charging stops
 * (CCL 0, charge enable off) while discharge stays allowed within the last trusted limit, and after
 * `silentAfterMs` nothing more is sent so the inverter's own battery-lost handling takes over.
 * Frames go out only while the inverter's keep-alive comes (or as a rare probe until it does).
 */
export class PylonCanSender extends EventEmitter {
  private readonly announcer: InverterAnnouncer;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private lastKeepAliveAt: number | null = null;
  private lastProbeAt = -Infinity;
  private sending = false;
  private stopped = false;

  constructor(
    private readonly port: CanPort,
    private readonly options: CanSenderOptions,
  ) {
    super();
    this.now = options.clock ?? Date.now;
    this.announcer = new InverterAnnouncer(options);
    port.on('frame', this.onFrame);
  }

  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => {
      void this.tick();
    }, this.options.family.periodMs);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    this.port.off('frame', this.onFrame);
  }

  /** Readings of some or all packs (bms-link cycles, bms-pack messages). */
  feed(packs: readonly PackInput[], at = this.now()): void {
    this.announcer.feed(packs, at);
  }

  get keepAliveSeen(): boolean {
    return this.linked(this.now());
  }

  private linked(now: number): boolean {
    if (!this.needsKeepAlive) return true;
    return this.lastKeepAliveAt !== null && now - this.lastKeepAliveAt <= this.keepAliveTimeoutMs;
  }

  private get needsKeepAlive(): boolean {
    return this.options.requireKeepAlive !== false && this.options.family.keepAlive.length > 0;
  }

  private get keepAliveTimeoutMs(): number {
    return this.options.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS;
  }

  private readonly onFrame = (frame: CanFrame): void => {
    const decoded = decodeInverterFrame(frame, this.options.family);
    if (this.options.family.keepAlive.includes(frame.id) && !frame.extended) {
      const wasLinked = this.linked(this.now());
      this.lastKeepAliveAt = this.now();
      if (!wasLinked) this.emit('keep-alive', decoded);
    }
    if (decoded.kind !== 'keep-alive' && decoded.kind !== 'other')
      this.emit('inverter', decoded satisfies InverterFrame);
  };

  /** The bank and what to announce at `now` (see `InverterAnnouncer`). */
  assess(now: number): Announcement {
    return this.announcer.assess(now);
  }

  /** One period: decide, then send the set (or a probe, or nothing). */
  async tick(now = this.now()): Promise<SenderReport> {
    const { freshness, values, packsOnline, packsExpected } = this.assess(now);
    const linked = this.linked(now);
    const base = {
      stage: freshness.stage,
      reason: freshness.reason,
      stalePacks: freshness.stalePacks,
      linked,
      values,
      packsOnline,
      packsExpected,
    };
    const nothing = (why: string): SenderReport => this.report({ ...base, sent: 'nothing', why, frames: 0 });
    if (!values) return nothing(freshness.stage === 3 ? `silent: ${freshness.reason}` : 'no readings to announce');
    if (!this.port.isOpen) return nothing('the CAN adapter is not open');
    let sent: 'set' | 'probe' = 'set';
    if (!linked) {
      const probe = this.options.probeEveryMs ?? DEFAULT_PROBE_EVERY_MS;
      if (probe <= 0 || now - this.lastProbeAt < probe) return nothing('waiting for the inverter');
      this.lastProbeAt = now;
      sent = 'probe';
    }
    // A set still going out (a slow adapter) is not overtaken by the next.
    if (this.sending) return nothing('the previous set is still going out');
    const frames = encodePylonFrames(values, this.options.family);
    this.sending = true;
    let count = 0;
    try {
      for (const frame of frames) {
        if (this.stopped) break;
        if (count > 0 && (this.options.frameGapMs ?? 10) > 0) await sleep(this.options.frameGapMs ?? 10);
        if (!(await this.port.send(frame))) break;
        count++;
      }
    } catch (err) {
      return this.report({ ...base, sent: 'nothing', why: `sending failed: ${errorMessage(err)}`, frames: count });
    } finally {
      this.sending = false;
    }
    return this.report({
      ...base,
      sent,
      why: sent === 'probe' ? 'no keep-alive from the inverter yet: one set to wake it' : '',
      frames: count,
    });
  }

  private report(report: SenderReport): SenderReport {
    this.emit('report', report);
    return report;
  }
}
