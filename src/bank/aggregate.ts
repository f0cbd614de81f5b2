import type { PackAlarms, PackAnalog, PackChargeLimits, PackIdentity, PackMode } from '../protocol';
import { LEVEL_OF_GROUP, LEVEL_RANK, codeText, isStatusCode, type AlarmLevel } from './codes';
import { sensorGroups, type SensorReading } from './temperatures';
import { round } from '../round';
import { byText } from '../order';

/** What a pack contributes: the bms-pack payload. */
export interface PackInput {
  readonly pack: number;
  readonly analog: PackAnalog | null;
  readonly alarms: Omit<PackAlarms, 'pack'> | null;
  readonly online: boolean;
  /** Age of `analog` in ms (null: never read). */
  readonly ageMs: number | null;
  /** Silence after which the poller drops the pack (see the poller); else the aggregation's own limit applies. */
  readonly staleAfterMs?: number;
  readonly identity?: PackIdentity | null;
  /** Limits the BMS itself asks for (Pylontech 0x92), when it reports them. */
  readonly limits?: PackChargeLimits | null;
}

export interface Extreme {
  readonly value: number;
  readonly pack: number;
  /** 1-based cell or sensor number. */
  readonly index: number;
  /** `P03C12` style id: pack 3, cell 12 (T for temperature sensors). */
  readonly id: string;
}

export interface TemperatureExtremes {
  readonly min: Extreme;
  readonly max: Extreme;
}

export interface BankAlarm {
  readonly code: string;
  readonly level: AlarmLevel;
  readonly text: string;
  readonly packs: readonly number[];
}

export interface PackSummary {
  readonly pack: number;
  readonly online: boolean;
  readonly stale: boolean;
  readonly ageMs: number | null;
  /** The silence limit the pack was judged by (its reading's own, or the aggregation's). */
  readonly staleAfterMs: number;
  readonly soc: number | null;
  readonly voltage: number | null;
  readonly current: number | null;
  readonly chargeMos: boolean | null;
  readonly dischargeMos: boolean | null;
  /** What the pack says it is doing, else what its current shows (see `packMode`). */
  readonly mode: PackMode | null;
  readonly alarmLevel: AlarmLevel | 'none';
  /** The pack's own readings, so consumers (charge control, the Venus bridge) need nothing else. */
  readonly analog: PackAnalog | null;
  readonly alarms: Omit<PackAlarms, 'pack'> | null;
  readonly identity: PackIdentity | null;
  readonly limits: PackChargeLimits | null;
}

export interface BankState {
  readonly packsExpected: number;
  readonly packsOnline: number;
  readonly packsOffline: readonly number[];
  /** Packs left out of the totals because their data is older than the limit (or missing). */
  readonly stalePacks: readonly number[];
  readonly current: number | null;
  readonly power: number | null;
  readonly voltage: { readonly mean: number; readonly min: number; readonly max: number } | null;
  /** Capacity-weighted: by full capacity for SOC, by design capacity for SOH. */
  readonly soc: number | null;
  readonly soh: number | null;
  readonly remainingAh: number;
  readonly fullAh: number;
  readonly cellVoltage: { readonly min: Extreme; readonly max: Extreme; readonly spread: number } | null;
  /** Cell sensors only: what the cells feel (MOSFET and ambient sensors run hotter or colder). */
  readonly temperature: TemperatureExtremes | null;
  readonly mosfetTemperature: TemperatureExtremes | null;
  readonly ambientTemperature: TemperatureExtremes | null;
  /** Pylontech's BMS-board sensor. */
  readonly boardTemperature: TemperatureExtremes | null;
  readonly alarmLevel: AlarmLevel | 'none';
  readonly alarms: readonly BankAlarm[];
  /** Some counted pack is balancing cells. */
  readonly balancing: boolean;
  readonly packs: readonly PackSummary[];
}

export interface AggregateOptions {
  /** Packs the bank should have: missing ones count as offline. */
  readonly expectedPacks?: readonly number[];
  /** Data older than this is stale and left out of totals, for packs whose reading does not say its own limit. */
  readonly staleAfterMs: number;
}

/** A cell's or temperature sensor's id as the GX shows it: `P03C07`, `P03T02` (1-based). */
export const sensorId = (pack: number, kind: 'C' | 'T', index: number): string =>
  `P${String(pack).padStart(2, '0')}${kind}${String(index).padStart(2, '0')}`;

interface Candidate {
  value: number;
  pack: number;
  /** 0-based. */
  index: number;
}

function setExtreme(c: Candidate, value: number, pack: number, index: number): void {
  c.value = value;
  c.pack = pack;
  c.index = index;
}

const extreme = (c: Candidate, kind: 'C' | 'T'): Extreme => ({
  value: c.value,
  pack: c.pack,
  index: c.index + 1,
  id: sensorId(c.pack, kind, c.index + 1),
});

interface Range {
  readonly min: Candidate;
  readonly max: Candidate;
}

const newRange = (): Range => ({
  min: { value: Infinity, pack: 0, index: 0 },
  max: { value: -Infinity, pack: 0, index: 0 },
});

function widen(range: Range, readings: readonly SensorReading[], pack: number): void {
  for (const r of readings) {
    if (r.value < range.min.value) setExtreme(range.min, r.value, pack, r.sensor - 1);
    if (r.value > range.max.value) setExtreme(range.max, r.value, pack, r.sensor - 1);
  }
}

const temperatureExtremes = (range: Range): TemperatureExtremes | null =>
  Number.isFinite(range.min.value) && Number.isFinite(range.max.value)
    ? { min: extreme(range.min, 'T'), max: extreme(range.max, 'T') }
    : null;

/** Below this current a pack that does not report its mode counts as standing by. */
export const STANDBY_BELOW_A = 0.5;

/**
 * What a pack is doing: its own report where the dialect has one (Seplos, EG4, Pylontech), else its
 * current (PACE sends no mode): charging or discharging beyond ±0.5 A, standby within.
 */
export function packMode(p: Pick<PackInput, 'analog' | 'alarms' | 'online'>): PackMode | null {
  if (!p.online || !p.analog) return null;
  const reported = p.alarms?.state?.mode;
  if (reported) return reported;
  const amps = p.analog.current;
  return amps > STANDBY_BELOW_A ? 'charging' : amps < -STANDBY_BELOW_A ? 'discharging' : 'standby';
}

/**
 * The bank as one battery. Only packs that are online with data younger than the stale limit count
 * toward totals; the others are listed, never silently averaged in.
 */
export function aggregateBank(inputs: readonly PackInput[], options: AggregateOptions): BankState {
  const byPack = new Map(inputs.map((p) => [p.pack, p]));
  const numbers = [...new Set([...(options.expectedPacks ?? []), ...byPack.keys()])].sort((a, b) => a - b);
  const fresh = (p: PackInput | undefined): p is PackInput & { analog: PackAnalog } =>
    p !== undefined &&
    p.online &&
    p.analog !== null &&
    p.ageMs !== null &&
    p.ageMs <= (p.staleAfterMs ?? options.staleAfterMs);

  const counted = numbers.map((n) => byPack.get(n)).filter(fresh);
  const offline = numbers.filter((n) => !byPack.get(n)?.online);
  const stale = numbers.filter((n) => !fresh(byPack.get(n)));

  let current = 0;
  let remainingAh = 0;
  let fullAh = 0;
  let socWeighted = 0;
  let socWeight = 0;
  let sohWeighted = 0;
  let sohWeight = 0;
  const voltages: number[] = [];
  // Extremes as (value, pack, index) until the end: building an id string per new extreme would
  // allocate for most of the bank's cells every cycle.
  const minCell = { value: Infinity, pack: 0, index: 0 };
  const maxCell = { value: -Infinity, pack: 0, index: 0 };
  const temps = { cells: newRange(), mosfet: newRange(), ambient: newRange(), board: newRange() };
  for (const { pack, analog } of counted) {
    current += analog.current;
    remainingAh += analog.remainingAh;
    fullAh += analog.fullAh;
    voltages.push(analog.voltage);
    if (analog.soc !== null) {
      const w = analog.fullAh > 0 ? analog.fullAh : 1;
      socWeighted += analog.soc * w;
      socWeight += w;
    }
    if (analog.soh !== null) {
      const w = analog.designAh ?? (analog.fullAh > 0 ? analog.fullAh : 1);
      sohWeighted += analog.soh * w;
      sohWeight += w;
    }
    const cells = analog.cellVoltages;
    for (let i = 0; i < cells.length; i++) {
      const value = cells[i] as number;
      if (value < minCell.value) setExtreme(minCell, value, pack, i);
      if (value > maxCell.value) setExtreme(maxCell, value, pack, i);
    }
    const groups = sensorGroups(analog);
    widen(temps.cells, groups.cells, pack);
    widen(temps.mosfet, groups.mosfet, pack);
    widen(temps.ambient, groups.ambient, pack);
    widen(temps.board, groups.board, pack);
  }

  const alarmMap = new Map<string, { code: string; level: AlarmLevel; packs: Set<number> }>();
  const packLevels = new Map<number, AlarmLevel | 'none'>();
  for (const input of numbers.map((n) => byPack.get(n)).filter(fresh)) {
    let worst: AlarmLevel | 'none' = 'none';
    for (const group of ['alarms', 'protections', 'faults'] as const) {
      const level = LEVEL_OF_GROUP[group];
      for (const code of input.alarms?.[group] ?? []) {
        if (isStatusCode(level, code)) continue;
        const key = `${level}:${code}`;
        const entry = alarmMap.get(key) ?? { code, level, packs: new Set<number>() };
        entry.packs.add(input.pack);
        alarmMap.set(key, entry);
        if (LEVEL_RANK[level] > LEVEL_RANK[worst]) worst = level;
      }
    }
    packLevels.set(input.pack, worst);
  }
  const alarms = [...alarmMap.values()]
    .map(({ code, level, packs }) => ({
      code,
      level,
      text: codeText(level, code),
      packs: [...packs].sort((a, b) => a - b),
    }))
    .sort((a, b) => LEVEL_RANK[b.level] - LEVEL_RANK[a.level] || byText(a.code, b.code));
  const alarmLevel = alarms[0]?.level ?? 'none';

  const meanVoltage = voltages.length ? voltages.reduce((a, b) => a + b, 0) / voltages.length : null;
  return {
    packsExpected: numbers.length,
    packsOnline: counted.length,
    packsOffline: offline,
    stalePacks: stale,
    current: counted.length ? round(current, 2) : null,
    power: counted.length && meanVoltage !== null ? round(current * meanVoltage, 1) : null,
    voltage:
      meanVoltage === null
        ? null
        : { mean: round(meanVoltage, 3), min: Math.min(...voltages), max: Math.max(...voltages) },
    soc: socWeight > 0 ? round(socWeighted / socWeight, 1) : null,
    soh: sohWeight > 0 ? round(sohWeighted / sohWeight, 1) : null,
    remainingAh: round(remainingAh, 2),
    fullAh: round(fullAh, 2),
    cellVoltage:
      Number.isFinite(minCell.value) && Number.isFinite(maxCell.value)
        ? { min: extreme(minCell, 'C'), max: extreme(maxCell, 'C'), spread: round(maxCell.value - minCell.value, 3) }
        : null,
    temperature: temperatureExtremes(temps.cells),
    mosfetTemperature: temperatureExtremes(temps.mosfet),
    ambientTemperature: temperatureExtremes(temps.ambient),
    boardTemperature: temperatureExtremes(temps.board),
    alarmLevel,
    alarms,
    balancing: counted.some((p) => (p.alarms?.balancingCells.length ?? 0) > 0),
    packs: numbers.map((n) => {
      const p = byPack.get(n);
      return {
        pack: n,
        online: p?.online ?? false,
        stale: !fresh(p),
        ageMs: p?.ageMs ?? null,
        staleAfterMs: p?.staleAfterMs ?? options.staleAfterMs,
        soc: p?.analog?.soc ?? null,
        voltage: p?.analog?.voltage ?? null,
        current: p?.analog?.current ?? null,
        chargeMos: p?.alarms?.chargeMos ?? null,
        dischargeMos: p?.alarms?.dischargeMos ?? null,
        mode: p ? packMode(p) : null,
        alarmLevel: packLevels.get(n) ?? 'none',
        analog: p?.analog ?? null,
        alarms: p?.alarms ?? null,
        identity: p?.identity ?? null,
        limits: p?.limits ?? null,
      };
    }),
  };
}

/** A reading kept since `at` (ms). */
export interface HeldInput {
  readonly input: PackInput;
  readonly at: number;
}

/** Kept readings as of `now`: each one's age grows by the time it has waited since it arrived. */
export function agedInputs(held: Iterable<HeldInput>, now: number): PackInput[] {
  return [...held].map(({ input, at }) => ({
    ...input,
    ageMs: input.ageMs === null ? null : input.ageMs + (now - at),
  }));
}
