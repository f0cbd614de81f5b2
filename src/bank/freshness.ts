import type { BankState, PackSummary } from './aggregate';

/**
 * 0: every pack fresh. 1: some packs silent — they are out of the totals and the limits.
 * 2: the bank's data is lost (every pack silent, or nothing new for the timeout) — chargers must
 * stop following us.
 */
export type DataStage = 0 | 1 | 2;

export interface FreshnessOptions {
  readonly pollIntervalMs: number;
  /** A pack is stale after this many poll intervals without fresh data. */
  readonly staleCycles?: number;
  /** Stage 2 when the newest data (or the last input) is older than this. */
  readonly lostAfterMs?: number;
}

export interface Freshness {
  readonly stage: DataStage;
  /** Empty at stage 0. */
  readonly reason: string;
  readonly stalePacks: readonly number[];
}

const name = (pack: number): string => `P${String(pack).padStart(2, '0')}`;
const seconds = (ms: number): string => `${Math.round(ms / 1000)} s`;

/** Readings a BMS can really send: a frame that decodes can still carry nonsense after a fault. */
export function plausible(pack: PackSummary): boolean {
  const a = pack.analog;
  if (!a || a.cellVoltages.length === 0) return false;
  if (!a.cellVoltages.every((v) => Number.isFinite(v) && v >= 1 && v <= 5)) return false;
  const sum = a.cellVoltages.reduce((x, y) => x + y, 0);
  if (!Number.isFinite(a.voltage) || Math.abs(sum - a.voltage) > Math.max(0.5, a.voltage * 0.03)) return false;
  if (!Number.isFinite(a.current)) return false;
  return a.soc === null || (a.soc >= 0 && a.soc <= 100);
}

/**
 * Decides how far the bank's data can be trusted. Once the data was lost it stays lost until
 * every pack that counts has sent fresh, plausible data read after the loss.
 */
export class FreshnessGuard {
  private lostSince: number | null = null;
  readonly staleAfterMs: number;
  readonly lostAfterMs: number;

  constructor(options: FreshnessOptions) {
    this.staleAfterMs = (options.staleCycles ?? 3) * options.pollIntervalMs;
    this.lostAfterMs = options.lostAfterMs ?? 60_000;
  }

  get lost(): boolean {
    return this.lostSince !== null;
  }

  /** `bank` aggregated at `now` with `staleAfterMs`; `lastInputAt` when data last arrived at all. */
  assess(bank: BankState | null, lastInputAt: number | null, now: number): Freshness {
    const stalePacks = bank?.stalePacks ?? [];
    const lostReason = this.lostReason(bank, lastInputAt, now);
    if (lostReason !== null) {
      this.lostSince ??= now;
      return { stage: 2, reason: lostReason, stalePacks };
    }
    if (this.lostSince !== null && bank) {
      const since = this.lostSince;
      const waiting = bank.packs.filter((p) => !p.stale && (p.ageMs === null || now - p.ageMs < since || !plausible(p)));
      if (waiting.length) return { stage: 2, reason: `waiting for fresh data from ${waiting.map((p) => name(p.pack)).join(', ')}`, stalePacks };
      this.lostSince = null;
    }
    if (stalePacks.length) return { stage: 1, reason: `no fresh data from ${stalePacks.map(name).join(', ')}`, stalePacks };
    return { stage: 0, reason: '', stalePacks };
  }

  private lostReason(bank: BankState | null, lastInputAt: number | null, now: number): string | null {
    if (!bank || lastInputAt === null) return 'no data yet';
    if (now - lastInputAt > this.lostAfterMs) return `no data for ${seconds(now - lastInputAt)}`;
    if (bank.packsOnline === 0) return 'every pack silent';
    const ages = bank.packs.filter((p) => !p.stale && p.ageMs !== null).map((p) => p.ageMs as number);
    const newest = Math.min(...ages);
    if (newest > this.lostAfterMs) return `data ${seconds(newest)} old`;
    return null;
  }
}
