import type { BankState, PackSummary } from './aggregate';

/**
 * How far the bank's data can be trusted, and so what the GX may be told.
 * 0: every pack fresh.
 * 1: some packs silent — they are out of the totals and the limits.
 * 2: no pack has fresh data — charging stops (CCL 0, a CVL no higher than the bank had), discharge
 *    stays allowed within a bounded limit, the service is still a BMS.
 * 3: no fresh data for the "BMS lost" timeout — the service stops being a BMS (CVL invalid) and the
 *    GX's own "BMS lost" handling takes over.
 */
export type DataStage = 0 | 1 | 2 | 3;

export interface FreshnessOptions {
  readonly pollIntervalMs: number;
  /** A pack whose reading says no limit of its own is stale after this many poll intervals. */
  readonly staleCycles?: number;
  /** Stage 3 when no pack has had fresh data for this long (default 5 min). */
  readonly lostAfterMs?: number;
}

export interface Freshness {
  readonly stage: DataStage;
  /** Empty at stage 0. */
  readonly reason: string;
  readonly stalePacks: readonly number[];
  /** At stage 2: how long until stage 3, in ms. */
  readonly lostInMs?: number;
}

export const DEFAULT_LOST_AFTER_MS = 300_000;

const name = (pack: number): string => `P${String(pack).padStart(2, '0')}`;
const seconds = (ms: number): string => `${String(Math.round(ms / 1000))} s`;

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
 * Decides the data stage from the aggregated bank (whose packs are already judged fresh or stale by
 * their own silence limits). Once no pack was fresh, the bank stays doubtful until every pack that
 * counts has sent fresh, plausible data read after that moment.
 */
export class FreshnessGuard {
  /** When the bank last had no fresh pack (null: it has not been doubtful since). */
  private doubtfulSince: number | null = null;
  /** When the bank last had at least one fresh pack. */
  private lastFreshAt: number | null = null;
  readonly staleAfterMs: number;
  readonly lostAfterMs: number;

  constructor(options: FreshnessOptions) {
    this.staleAfterMs = (options.staleCycles ?? 3) * options.pollIntervalMs;
    this.lostAfterMs = options.lostAfterMs ?? DEFAULT_LOST_AFTER_MS;
  }

  /** Charging is stopped (stage 2 or 3). */
  get doubtful(): boolean {
    return this.doubtfulSince !== null;
  }

  /**
   * The bank last assessed still has a fresh pack at `now` (no pack can have turned stale since): the
   * caller skipped aggregating it again. Keeps the BMS-lost time counted from the last fresh moment.
   */
  stillFresh(now: number): void {
    if (this.lastFreshAt !== null && now > this.lastFreshAt) this.lastFreshAt = now;
  }

  /** `bank` aggregated at `now`; null before any data arrived. */
  assess(bank: BankState | null, now: number): Freshness {
    if (!bank) return { stage: 3, reason: 'no data yet', stalePacks: [] };
    const stalePacks = bank.stalePacks;
    const noneFresh = bank.packsOnline === 0;
    if (noneFresh) {
      this.doubtfulSince ??= now;
      const silentFor = now - (this.lastFreshAt ?? this.doubtfulSince);
      const why = bank.packsExpected === 0 ? 'no pack reports' : `no fresh data from any pack (${seconds(silentFor)})`;
      if (silentFor >= this.lostAfterMs) return { stage: 3, reason: why, stalePacks };
      return { stage: 2, reason: why, stalePacks, lostInMs: this.lostAfterMs - silentFor };
    }
    this.lastFreshAt = now;
    if (this.doubtfulSince !== null) {
      const since = this.doubtfulSince;
      const waiting = bank.packs.filter(
        (p) => !p.stale && (p.ageMs === null || now - p.ageMs < since || !plausible(p)),
      );
      if (waiting.length) {
        return {
          stage: 2,
          reason: `waiting for fresh data from ${waiting.map((p) => name(p.pack)).join(', ')}`,
          stalePacks,
          lostInMs: this.lostAfterMs,
        };
      }
      this.doubtfulSince = null;
    }
    if (stalePacks.length)
      return { stage: 1, reason: `no fresh data from ${stalePacks.map(name).join(', ')}`, stalePacks };
    return { stage: 0, reason: '', stalePacks };
  }
}
