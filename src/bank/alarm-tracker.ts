import { LEVEL_OF_GROUP, LEVEL_RANK, OFFLINE_CODE, codeText, isStatusCode, type AlarmLevel } from './codes';
import { byText } from '../order';

export interface AlarmChange {
  readonly code: string;
  readonly level: AlarmLevel;
  readonly state: 'raised' | 'cleared';
  readonly pack: number;
  readonly text: string;
  /** When the condition was first seen (ISO time). */
  readonly since: string;
}

export interface ActiveAlarm {
  readonly code: string;
  readonly level: AlarmLevel;
  readonly pack: number;
  readonly text: string;
  readonly since: string;
}

/** The codes one pack reports now, by group (the `alarms` part of a pack reading). */
export interface PackCodes {
  readonly pack: number;
  readonly alarms: readonly string[];
  readonly protections: readonly string[];
  readonly faults: readonly string[];
}

export interface TrackerOptions {
  /** A code must be present this long before it is raised, and absent this long before it clears. */
  readonly raiseAfterMs?: number;
  readonly clearAfterMs?: number;
  /** Only these codes (empty: all), never these, and nothing below this level. */
  readonly include?: readonly string[];
  readonly exclude?: readonly string[];
  readonly minLevel?: AlarmLevel;
  /** A pack that stops answering raises `OFFLINE` at this level; undefined: it does not. */
  readonly offlineLevel?: AlarmLevel;
}

interface Entry {
  readonly code: string;
  readonly level: AlarmLevel;
  readonly pack: number;
  readonly firstSeen: number;
  raised: boolean;
  absentSince: number | undefined;
}

/**
 * Turns repeated pack readings into raise / clear events with debounce: a code flickering for less
 * than the raise delay never raises, one that disappears briefly never clears. Time is passed in,
 * so the same logic runs on real and fake clocks.
 */
export class AlarmTracker {
  private readonly entries = new Map<string, Entry>();
  private readonly raiseAfterMs: number;
  private readonly clearAfterMs: number;

  constructor(private readonly options: TrackerOptions = {}) {
    this.raiseAfterMs = Math.max(0, options.raiseAfterMs ?? 0);
    this.clearAfterMs = Math.max(0, options.clearAfterMs ?? 0);
  }

  /**
   * Feed what the packs in `packs` report now; packs not listed keep their state. Packs in `offline`
   * are not answering: they raise `OFFLINE` (when an offline level is set) and keep their other
   * codes as they were, since nothing is known about them; `OFFLINE` clears once the pack reports again.
   */
  update(packs: readonly PackCodes[], now: number, offline: readonly number[] = []): AlarmChange[] {
    const level = this.options.offlineLevel;
    if (level !== undefined && this.wanted(level, OFFLINE_CODE)) {
      for (const pack of offline) {
        const key = `${pack}:${level}:${OFFLINE_CODE}`;
        const entry = this.entries.get(key);
        if (!entry)
          this.entries.set(key, {
            code: OFFLINE_CODE,
            level,
            pack,
            firstSeen: now,
            raised: false,
            absentSince: undefined,
          });
        else entry.absentSince = undefined;
      }
    }
    for (const report of packs) {
      const present = new Set<string>();
      for (const group of ['alarms', 'protections', 'faults'] as const) {
        const level = LEVEL_OF_GROUP[group];
        for (const code of report[group]) {
          if (!this.wanted(level, code)) continue;
          const key = `${report.pack}:${level}:${code}`;
          present.add(key);
          const entry = this.entries.get(key);
          if (!entry)
            this.entries.set(key, {
              code,
              level,
              pack: report.pack,
              firstSeen: now,
              raised: false,
              absentSince: undefined,
            });
          else entry.absentSince = undefined;
        }
      }
      for (const [key, entry] of this.entries) {
        if (entry.pack !== report.pack || present.has(key)) continue;
        if (!entry.raised) this.entries.delete(key);
        else entry.absentSince ??= now;
      }
    }
    return this.tick(now);
  }

  /** Confirm what has been present or absent long enough by `now`. */
  tick(now: number): AlarmChange[] {
    const changes: AlarmChange[] = [];
    for (const [key, entry] of this.entries) {
      if (!entry.raised && entry.absentSince === undefined && now - entry.firstSeen >= this.raiseAfterMs) {
        entry.raised = true;
        changes.push(this.change(entry, 'raised'));
      } else if (entry.raised && entry.absentSince !== undefined && now - entry.absentSince >= this.clearAfterMs) {
        this.entries.delete(key);
        changes.push(this.change(entry, 'cleared'));
      }
    }
    return changes.sort(
      (a, b) => a.pack - b.pack || LEVEL_RANK[b.level] - LEVEL_RANK[a.level] || byText(a.code, b.code),
    );
  }

  /** When the next pending raise or clear becomes due (for a timer), if any. */
  nextDue(): number | undefined {
    let due: number | undefined;
    for (const entry of this.entries.values()) {
      const at = !entry.raised
        ? entry.firstSeen + this.raiseAfterMs
        : entry.absentSince !== undefined
          ? entry.absentSince + this.clearAfterMs
          : undefined;
      if (at !== undefined && (due === undefined || at < due)) due = at;
    }
    return due;
  }

  active(): ActiveAlarm[] {
    return [...this.entries.values()]
      .filter((e) => e.raised)
      .map((e) => ({
        code: e.code,
        level: e.level,
        pack: e.pack,
        text: codeText(e.level, e.code),
        since: new Date(e.firstSeen).toISOString(),
      }))
      .sort((a, b) => LEVEL_RANK[b.level] - LEVEL_RANK[a.level] || a.pack - b.pack || byText(a.code, b.code));
  }

  private wanted(level: AlarmLevel, code: string): boolean {
    const { include, exclude, minLevel } = this.options;
    if (isStatusCode(level, code) && !include?.includes(code)) return false;
    if (include && include.length > 0 && !include.includes(code)) return false;
    if (exclude?.includes(code)) return false;
    return LEVEL_RANK[level] >= LEVEL_RANK[minLevel ?? 'warning'];
  }

  private change(entry: Entry, state: 'raised' | 'cleared'): AlarmChange {
    return {
      code: entry.code,
      level: entry.level,
      state,
      pack: entry.pack,
      text: codeText(entry.level, entry.code),
      since: new Date(entry.firstSeen).toISOString(),
    };
  }
}
