import { FrameError, type Fields } from '../protocol';
import { addressed, type BmsClient } from './client';
import { readUntilAgreed } from './confirm';
import { errorMessage } from './errors';

/** A 0xA1 record in the canonical shape (docs/payloads.md#data `history`, plus its status codes). */
export type HistoryEntry = Fields & { readonly time: string };

/**
 * What has been downloaded from one pack: the times of every record seen (the log is in time
 * order and records are minutes apart, so a time names a record) and whether everything older
 * than the newest of them is among them.
 */
export interface HistoryCursor {
  readonly times: readonly string[];
  readonly complete: boolean;
}

export const EMPTY_CURSOR: HistoryCursor = { times: [], complete: false };

export interface HistoryProgress {
  readonly done: number;
  readonly total?: number;
}

export interface DownloadOptions {
  readonly address?: number;
  readonly cursor?: HistoryCursor;
  readonly onProgress?: (progress: HistoryProgress) => void;
  readonly signal?: AbortSignal;
  /** Safety stop for a pack that never sends the end marker. */
  readonly maxRecords?: number;
}

export interface DownloadResult {
  /** Records not in the cursor before, newest first. */
  readonly records: readonly HistoryEntry[];
  readonly cursor: HistoryCursor;
  /** Requests sent. */
  readonly reads: number;
  /** Set when the download stopped early; what was read is kept and the cursor says so. */
  readonly error?: string;
}

/**
 * Reads the history log newest to oldest until the end marker (an empty reply), skipping what the
 * cursor already holds: a run of known records is jumped over when the record at its far end is
 * where it should be, so a resumed download costs a couple of requests, not the whole log again.
 */
export async function downloadHistory(client: BmsClient, options: DownloadOptions = {}): Promise<DownloadResult> {
  const seen = new Set(options.cursor?.times ?? []);
  const records: HistoryEntry[] = [];
  const max = options.maxRecords ?? 5000;
  let reads = 0;
  const read = async (index: number): Promise<HistoryEntry | null> => {
    if (options.signal?.aborted) throw new Error('download stopped');
    reads++;
    const { data } = await client.call('history', { index }, { priority: 'background', ...addressed(options.address) });
    return typeof data.time === 'string' ? { ...data, time: data.time } : null;
  };
  let index = 0;
  try {
    while (index < max) {
      const record = await read(index);
      if (!record) {
        return { records, cursor: { times: sortedTimes(seen), complete: true }, reads };
      }
      if (!seen.has(record.time)) {
        seen.add(record.time);
        records.push(record);
        options.onProgress?.({ done: records.length });
        index++;
        continue;
      }
      // Known: every known record at or below this one should follow it, one per index. Check the
      // far end of that run (or the end of the log, if old records fell off it) and jump over it.
      const known = [...seen]
        .filter((t) => t <= record.time)
        .sort()
        .reverse();
      let far = index + known.length - 1;
      let atFar: HistoryEntry | null = far > index ? await read(far) : record;
      if (!atFar) {
        let lo = index;
        let loRecord: HistoryEntry = record;
        let hi = far;
        while (hi - lo > 1) {
          const mid = Math.floor((lo + hi) / 2);
          const found = await read(mid);
          if (found) {
            lo = mid;
            loRecord = found;
          } else hi = mid;
        }
        far = lo;
        atFar = loRecord;
      }
      if (atFar.time === known[far - index]) {
        index = far + 1;
        continue;
      }
      index++;
    }
    return {
      records,
      cursor: { times: sortedTimes(seen), complete: false },
      reads,
      error: `stopped after ${String(max)} records without an end marker`,
    };
  } catch (err) {
    return { records, cursor: { times: sortedTimes(seen), complete: false }, reads, error: errorMessage(err) };
  }
}

const sortedTimes = (times: Set<string>): string[] => [...times].sort().reverse();

/** Records as CSV: one row each, cells and temperatures in their own columns. */
export function historyToCsv(records: readonly HistoryEntry[]): string {
  const cells = Math.max(0, ...records.map((r) => (Array.isArray(r.cellVoltages) ? r.cellVoltages.length : 0)));
  const temps = Math.max(0, ...records.map((r) => (Array.isArray(r.temperatures) ? r.temperatures.length : 0)));
  const header = [
    'time',
    'voltage',
    'current',
    'remainingAh',
    'fullAh',
    'cycles',
    ...Array.from({ length: cells }, (_, i) => `cell${String(i + 1)}`),
    ...Array.from({ length: temps }, (_, i) => `temp${String(i + 1)}`),
    'alarms',
    'protections',
    'faults',
  ];
  const cell = (v: unknown): string =>
    v === null || v === undefined
      ? ''
      : Array.isArray(v)
        ? v.join(' ')
        : typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean'
          ? String(v)
          : '';
  const rows = records.map((r) => {
    const cv = (r.cellVoltages ?? []) as unknown[];
    const tv = (r.temperatures ?? []) as unknown[];
    return [
      r.time,
      r.voltage,
      r.current,
      r.remainingAh,
      r.fullAh,
      r.cycles,
      ...Array.from({ length: cells }, (_, i) => cv[i]),
      ...Array.from({ length: temps }, (_, i) => tv[i]),
      r.alarms,
      r.protections,
      r.faults,
    ]
      .map(cell)
      .join(',');
  });
  return `${[header.join(','), ...rows].join('\n')}\n`;
}

/** Minutes between history records as the pack reports them (0xB8). */
export async function readStorageInterval(client: BmsClient, address?: number): Promise<number> {
  const { data } = await client.call(
    'readStorageInterval',
    {},
    { priority: 'interactive', retries: 0, ...addressed(address) },
  );
  return data.interval / 60;
}

/** Sets the storage interval (0xB7, 0–120 min) and returns what two reads in a row then agree on. */
export function setStorageInterval(client: BmsClient, address: number | undefined, minutes: number): Promise<number> {
  return client.exclusive(async (own) => {
    await own
      .call(
        'writeStorageInterval',
        { interval: minutes * 60 },
        { priority: 'interactive', retries: 0, ...addressed(address) },
      )
      .catch((err: unknown) => {
        if (err instanceof FrameError && err.kind === 'rtn') throw err;
      });
    const back = await readUntilAgreed(
      () => readStorageInterval(own, address),
      (a, b) => a === b,
      'reading the storage interval back',
    );
    if (back !== minutes) throw new Error(`the pack reports ${String(back)} min after setting ${String(minutes)}`);
    return back;
  });
}

/** Erases the history log (0xB3); two reads of the newest record in a row must find it empty. */
export function clearHistory(client: BmsClient, address?: number): Promise<void> {
  return client.exclusive(async (own) => {
    await own
      .call('clearHistory', {}, { priority: 'interactive', retries: 0, ...addressed(address) })
      .catch((err: unknown) => {
        if (err instanceof FrameError && err.kind === 'rtn') throw err;
      });
    const newest = async (): Promise<string | null> => {
      const { data } = await own.call(
        'history',
        { index: 0 },
        { priority: 'interactive', retries: 0, ...addressed(address) },
      );
      return typeof data.time === 'string' ? data.time : null;
    };
    const left = await readUntilAgreed(newest, (a, b) => a === b, 'reading the history back');
    if (left !== null) throw new Error(`the pack still holds history records after clearing (newest ${left})`);
  });
}
