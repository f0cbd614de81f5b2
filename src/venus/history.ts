/**
 * What the bridge can honestly keep as `/History/*`: energy it integrated from fresh readings,
 * extremes it saw, the last full charge. Persisted, so the counters only ever grow.
 */
export interface BankHistory {
  readonly chargedKwh: number;
  readonly dischargedKwh: number;
  readonly minVoltage: number | null;
  readonly maxVoltage: number | null;
  readonly minCellVoltage: number | null;
  readonly maxCellVoltage: number | null;
  readonly minTemperature: number | null;
  readonly maxTemperature: number | null;
  /** ms since the epoch. */
  readonly lastFullChargeAt: number | null;
}

export const EMPTY_HISTORY: BankHistory = {
  chargedKwh: 0,
  dischargedKwh: 0,
  minVoltage: null,
  maxVoltage: null,
  minCellVoltage: null,
  maxCellVoltage: null,
  minTemperature: null,
  maxTemperature: null,
  lastFullChargeAt: null,
};

export interface HistorySample {
  readonly at: number;
  readonly power: number | null;
  readonly voltage: number | null;
  readonly minCellVoltage: number | null;
  readonly maxCellVoltage: number | null;
  readonly minTemperature: number | null;
  readonly maxTemperature: number | null;
  readonly full: boolean;
}

const lower = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.min(a, b));
const higher = (a: number | null, b: number | null): number | null =>
  a === null ? b : b === null ? a : Math.max(a, b);

/**
 * Adds one sample. Energy counts only across gaps up to `maxGapMs`: after an outage nothing is
 * invented for the time nobody measured.
 */
export function addSample(
  history: BankHistory,
  sample: HistorySample,
  previousAt: number | null,
  maxGapMs: number,
): BankHistory {
  let { chargedKwh, dischargedKwh } = history;
  const dt = previousAt === null ? 0 : sample.at - previousAt;
  if (sample.power !== null && Number.isFinite(sample.power) && dt > 0 && dt <= maxGapMs) {
    const kwh = (Math.abs(sample.power) * dt) / 3.6e9;
    if (sample.power > 0) chargedKwh += kwh;
    else dischargedKwh += kwh;
  }
  return {
    chargedKwh,
    dischargedKwh,
    minVoltage: lower(history.minVoltage, sample.voltage),
    maxVoltage: higher(history.maxVoltage, sample.voltage),
    minCellVoltage: lower(history.minCellVoltage, sample.minCellVoltage),
    maxCellVoltage: higher(history.maxCellVoltage, sample.maxCellVoltage),
    minTemperature: lower(history.minTemperature, sample.minTemperature),
    maxTemperature: higher(history.maxTemperature, sample.maxTemperature),
    lastFullChargeAt: sample.full ? sample.at : history.lastFullChargeAt,
  };
}

/** A stored history, or the empty one when the file held something else. */
export function historyFrom(value: unknown): BankHistory {
  if (typeof value !== 'object' || value === null) return EMPTY_HISTORY;
  const v = value as Record<string, unknown>;
  const num = (k: string): number | null => (typeof v[k] === 'number' && Number.isFinite(v[k]) ? v[k] : null);
  return {
    chargedKwh: Math.max(0, num('chargedKwh') ?? 0),
    dischargedKwh: Math.max(0, num('dischargedKwh') ?? 0),
    minVoltage: num('minVoltage'),
    maxVoltage: num('maxVoltage'),
    minCellVoltage: num('minCellVoltage'),
    maxCellVoltage: num('maxCellVoltage'),
    minTemperature: num('minTemperature'),
    maxTemperature: num('maxTemperature'),
    lastFullChargeAt: num('lastFullChargeAt'),
  };
}
