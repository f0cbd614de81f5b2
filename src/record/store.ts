import { createReadStream } from 'node:fs';
import { appendFile, mkdir, readFile, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { BankState } from '../bank';
import { BANK_TABLE, PACKS_TABLE, bankRow, csvLine, localDay, localIso, packRow, type Table } from './rows';
import { errorMessage } from '../errors';
import { byText } from '../order';

/**
 * The columns' version, part of every file name: a file's rows always match its header, and a
 * later version with other columns starts new files instead of mixing them.
 */
const SCHEMA = 'v1';
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const FILE = /^(bank|packs)-(v\d+)-(\d{4}-\d{2}-\d{2})\.csv$/;

export interface RecordOptions {
  readonly dir: string;
  /** One bank row per this many ms (default 60 s). */
  readonly bankEveryMs?: number;
  /** One row per pack per this many ms (default 5 min): 15 packs with 16 cells are most of the bytes. */
  readonly packsEveryMs?: number;
  /** Rows are written in batches: flash wears by writes, and a power cut loses at most this much (default 60 s). */
  readonly flushEveryMs?: number;
  /** Days kept (default 62: two months, as the vendor tool's database). */
  readonly keepDays?: number;
  /** The whole record stays below this many bytes; the oldest days go first (default 100 MB). */
  readonly maxBytes?: number;
  readonly clock?: () => number;
}

export interface DayFiles {
  readonly day: string;
  readonly bankBytes: number;
  readonly packsBytes: number;
}

export interface TrendPoint {
  readonly time: number;
  readonly soc: number | null;
  readonly power: number | null;
  readonly spreadMv: number | null;
}

export interface RecordStats {
  readonly bytes: number;
  readonly days: number;
  readonly oldestDay: string | null;
  /** Samples (a bank row, or the rows of all packs at one time) not yet on disk. */
  readonly bufferedSamples: number;
  readonly lastFlush: number | null;
  readonly lastError: string | null;
}

/** A day or a range of days asked for by a user: both YYYY-MM-DD, from ≤ to (to defaults to from). */
export function checkRange(from: unknown, to: unknown): { from: string; to: string } | string {
  if (typeof from !== 'string' || !DAY.test(from) || Number.isNaN(Date.parse(from)))
    return 'from must be a day as YYYY-MM-DD';
  const until = to === undefined || to === '' ? from : to;
  if (typeof until !== 'string' || !DAY.test(until) || Number.isNaN(Date.parse(until)))
    return 'to must be a day as YYYY-MM-DD';
  if (until < from) return 'to is before from';
  return { from, to: until };
}

/**
 * A rolling record of the bank on disk: per local day one CSV file of bank rows and one of pack
 * rows, appended in batches, kept for a number of days and below a total size. Plain appended text
 * needs no compiler (a GX has none), survives a power cut but for the last batch and its possibly
 * cut last line (skipped when read back), and opens in any spreadsheet.
 */
export class RecordStore {
  private readonly bankEveryMs: number;
  private readonly packsEveryMs: number;
  private readonly flushEveryMs: number;
  private readonly keepDays: number;
  private readonly maxBytes: number;
  private readonly clock: () => number;
  /** Lines waiting to be written, by file name. */
  private pending = new Map<string, string[]>();
  private nextBankAt = 0;
  private nextPacksAt = 0;
  private lastFlushAt: number | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private lastError: string | null = null;
  private sizes = new Map<string, number>();
  /** The last day of bank samples, for trends without reading files. */
  private trendPoints: TrendPoint[] = [];

  constructor(private readonly options: RecordOptions) {
    this.bankEveryMs = Math.max(1000, options.bankEveryMs ?? 60_000);
    this.packsEveryMs = Math.max(1000, options.packsEveryMs ?? 300_000);
    this.flushEveryMs = Math.max(0, options.flushEveryMs ?? 60_000);
    this.keepDays = Math.max(1, options.keepDays ?? 62);
    this.maxBytes = Math.max(1_000_000, options.maxBytes ?? 100_000_000);
    this.clock = options.clock ?? Date.now;
  }

  get dir(): string {
    return this.options.dir;
  }

  /** Create the directory, drop what is past the limits, and load the last day for trends. */
  async open(): Promise<void> {
    await mkdir(this.options.dir, { recursive: true });
    await this.scan();
    await this.prune();
    const now = this.clock();
    this.trendPoints = [];
    for (const day of [localDay(now - 86_400_000), localDay(now)]) {
      for await (const point of this.readTrend(day)) if (point.time >= now - 86_400_000) this.trendPoints.push(point);
    }
  }

  /** Take a sample of `bank` when one is due; written with the next flush. */
  add(bank: BankState): { bank: boolean; packs: boolean } {
    const now = this.clock();
    const time = localIso(now);
    const day = localDay(now);
    const taken = { bank: false, packs: false };
    if (now >= this.nextBankAt) {
      this.nextBankAt = now - (now % this.bankEveryMs) + this.bankEveryMs;
      this.queue(BANK_TABLE, day, csvLine(bankRow(time, bank)));
      // To the second, as the file has it: the same points before and after a restart.
      this.trendPoints.push({
        time: now - (now % 1000),
        soc: bank.soc,
        power: bank.power,
        spreadMv: bank.cellVoltage ? Math.round(bank.cellVoltage.spread * 1000) : null,
      });
      const cut = this.trendPoints.findIndex((p) => p.time >= now - 86_400_000);
      if (cut > 0) this.trendPoints.splice(0, cut);
      taken.bank = true;
    }
    if (now >= this.nextPacksAt && bank.packs.length > 0) {
      this.nextPacksAt = now - (now % this.packsEveryMs) + this.packsEveryMs;
      this.queue(PACKS_TABLE, day, bank.packs.map((p) => csvLine(packRow(time, p))).join(''));
      taken.packs = true;
    }
    if (this.lastFlushAt === null) this.lastFlushAt = now;
    if (now - this.lastFlushAt >= this.flushEveryMs) void this.flush();
    return taken;
  }

  /** Write what is buffered now (also on close). Errors are kept in `stats.lastError`; rows stay queued. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      const batch = this.pending;
      this.pending = new Map();
      this.lastFlushAt = this.clock();
      let newDay = false;
      let failed: string | null = null;
      for (const [file, lines] of batch) {
        const path = join(this.options.dir, file);
        const size = this.sizes.get(file);
        const table = file.startsWith('bank-') ? BANK_TABLE : PACKS_TABLE;
        const text = (size === undefined ? `${table.columns.join(',')}\n` : '') + lines.join('');
        try {
          await appendFile(path, text);
          this.sizes.set(file, (size ?? 0) + Buffer.byteLength(text));
          if (size === undefined) newDay = true;
        } catch (err) {
          // Nothing lost: the rows go back to the front of the queue for the next flush.
          failed = `cannot write ${path}: ${errorMessage(err)}`;
          this.pending.set(file, [...lines, ...(this.pending.get(file) ?? [])]);
        }
      }
      this.lastError = failed;
      if (newDay) await this.prune();
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    await this.flush();
  }

  /** The samples of the last `hours` (at most 24), at most `maxPoints` (evenly thinned). */
  trend(hours = 24, maxPoints = 1440): TrendPoint[] {
    const since = this.clock() - Math.min(24, Math.max(0, hours)) * 3_600_000;
    const points = this.trendPoints.filter((p) => p.time >= since);
    if (points.length <= maxPoints) return points;
    const step = points.length / maxPoints;
    return Array.from({ length: maxPoints }, (_, i) => points[Math.floor(i * step)] as TrendPoint);
  }

  /** The newest bank sample, if any. */
  lastPoint(): TrendPoint | undefined {
    return this.trendPoints.at(-1);
  }

  /** Days on disk (current columns), newest first. */
  days(): DayFiles[] {
    const byDay = new Map<string, { bankBytes: number; packsBytes: number }>();
    for (const [file, size] of this.sizes) {
      const m = FILE.exec(file);
      if (!m || m[2] !== SCHEMA) continue;
      const entry = byDay.get(m[3] ?? '') ?? { bankBytes: 0, packsBytes: 0 };
      if (m[1] === 'bank') entry.bankBytes += size;
      else entry.packsBytes += size;
      byDay.set(m[3] ?? '', entry);
    }
    return [...byDay].map(([day, e]) => ({ day, ...e })).sort((a, b) => byText(b.day, a.day));
  }

  get stats(): RecordStats {
    const days = this.days();
    return {
      bytes: [...this.sizes.values()].reduce((a, b) => a + b, 0),
      days: days.length,
      oldestDay: days.at(-1)?.day ?? null,
      bufferedSamples: [...this.pending.values()].reduce((n, l) => n + l.length, 0),
      lastFlush: this.lastFlushAt,
      lastError: this.lastError,
    };
  }

  /**
   * The CSV of `table` for the days `from`…`to` (YYYY-MM-DD, checked by `checkRange`): one header,
   * then every stored row in time order, read file by file so a two-month download never sits in memory.
   */
  async *csv(table: 'bank' | 'packs', from: string, to: string): AsyncGenerator<string> {
    await this.flush();
    const columns = table === 'bank' ? BANK_TABLE.columns : PACKS_TABLE.columns;
    yield `${columns.join(',')}\n`;
    const files = [...this.sizes.keys()]
      .filter((f) => f.startsWith(`${table}-${SCHEMA}-`))
      .filter((f) => {
        const day = FILE.exec(f)?.[3] ?? '';
        return day >= from && day <= to;
      })
      .sort();
    for (const file of files) {
      let header = true;
      for await (const line of lines(join(this.options.dir, file))) {
        if (header) {
          header = false;
          continue;
        }
        if (line.split(',').length >= columns.length) yield `${line}\n`;
      }
    }
  }

  private queue(table: Table, day: string, text: string): void {
    const file = `${table.name}-${SCHEMA}-${day}.csv`;
    const list = this.pending.get(file) ?? [];
    list.push(text);
    this.pending.set(file, list);
  }

  private async scan(): Promise<void> {
    this.sizes.clear();
    for (const file of await readdir(this.options.dir)) {
      if (!FILE.test(file)) continue;
      const info = await stat(join(this.options.dir, file)).catch(() => null);
      if (info?.isFile()) this.sizes.set(file, info.size);
    }
  }

  /** Drop days older than `keepDays`, then the oldest days while the record is over `maxBytes`. */
  private async prune(): Promise<void> {
    const oldestKept = localDay(this.clock() - (this.keepDays - 1) * 86_400_000);
    const byAge = [...this.sizes.keys()].sort((a, b) => byText(FILE.exec(a)?.[3] ?? '', FILE.exec(b)?.[3] ?? ''));
    let total = [...this.sizes.values()].reduce((a, b) => a + b, 0);
    const today = localDay(this.clock());
    for (const file of byAge) {
      const day = FILE.exec(file)?.[3] ?? '';
      if (day >= oldestKept && (total <= this.maxBytes || day === today)) continue;
      try {
        await unlink(join(this.options.dir, file));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          this.lastError = `cannot remove ${file}: ${errorMessage(err)}`;
          continue;
        }
      }
      total -= this.sizes.get(file) ?? 0;
      this.sizes.delete(file);
    }
  }

  private async *readTrend(day: string): AsyncGenerator<TrendPoint> {
    const file = `bank-${SCHEMA}-${day}.csv`;
    if (!this.sizes.has(file)) return;
    const text = await readFile(join(this.options.dir, file), 'utf8').catch(() => '');
    const [header = '', ...rows] = text.split('\n');
    const columns = header.split(',');
    const at = (name: string): number => columns.indexOf(name);
    const [time, soc, power, spread] = [at('time'), at('soc'), at('power'), at('cellSpreadMv')];
    const num = (v: string | undefined): number | null =>
      v === undefined || v === '' || !Number.isFinite(Number(v)) ? null : Number(v);
    for (const row of rows) {
      const cells = row.split(',');
      // A line cut by a power failure has fewer fields: skipped.
      if (cells.length < columns.length) continue;
      const t = Date.parse(cells[time] ?? '');
      if (Number.isNaN(t)) continue;
      yield { time: t, soc: num(cells[soc]), power: num(cells[power]), spreadMv: num(cells[spread]) };
    }
  }
}

async function* lines(path: string): AsyncGenerator<string> {
  const input = createReadStream(path, { encoding: 'utf8' });
  try {
    for await (const line of createInterface({ input, crlfDelay: Infinity })) yield line;
  } finally {
    input.destroy();
  }
}
