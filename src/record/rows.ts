import type { BankState, PackSummary } from '../bank';
import { sensorGroups } from '../bank';
import { round } from '../round';

/** One CSV table: its columns and how a row's cells are written. */
export interface Table {
  readonly name: 'bank' | 'packs';
  readonly columns: readonly string[];
}

const CELLS = 16;

export const BANK_TABLE: Table = {
  name: 'bank',
  columns: [
    'time',
    'soc',
    'soh',
    'voltage',
    'current',
    'power',
    'remainingAh',
    'fullAh',
    'packsOnline',
    'packsExpected',
    'stalePacks',
    'cellMin',
    'cellMinId',
    'cellMax',
    'cellMaxId',
    'cellSpreadMv',
    'tempMin',
    'tempMinId',
    'tempMax',
    'tempMaxId',
    'mosfetMax',
    'ambientMin',
    'ambientMax',
    'alarmLevel',
    'alarms',
  ],
};

export const PACKS_TABLE: Table = {
  name: 'packs',
  columns: [
    'time',
    'pack',
    'online',
    'ageMs',
    'mode',
    'soc',
    'soh',
    'voltage',
    'current',
    'remainingAh',
    'fullAh',
    'designAh',
    'cycles',
    'cellMin',
    'cellMax',
    'cellSpreadMv',
    'tempCellMin',
    'tempCellMax',
    'tempMosfet',
    'tempAmbient',
    'balancingCells',
    'chargeMos',
    'dischargeMos',
    'alarms',
    'protections',
    'faults',
    ...Array.from({ length: CELLS }, (_, i) => `cell${String(i + 1)}`),
  ],
};

export type Cell = string | number | boolean | null;

/** A CSV field: numbers as they are, text quoted only when it must be, nothing for null. */
export function csvField(value: Cell): string {
  if (value === null) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export const csvLine = (cells: readonly Cell[]): string => `${cells.map(csvField).join(',')}\n`;

/** A number at the column's precision; anything else an empty cell. */
const rounded = (value: number | null | undefined, decimals: number): number | null =>
  typeof value === 'number' && Number.isFinite(value) ? round(value, decimals) : null;

/** The bank at `time` (ISO) as one row of `BANK_TABLE`. */
export function bankRow(time: string, bank: BankState): Cell[] {
  return [
    time,
    bank.soc,
    bank.soh,
    rounded(bank.voltage?.mean, 3),
    bank.current,
    bank.power,
    bank.remainingAh,
    bank.fullAh,
    bank.packsOnline,
    bank.packsExpected,
    bank.stalePacks.join(' '),
    bank.cellVoltage?.min.value ?? null,
    bank.cellVoltage?.min.id ?? null,
    bank.cellVoltage?.max.value ?? null,
    bank.cellVoltage?.max.id ?? null,
    bank.cellVoltage ? Math.round(bank.cellVoltage.spread * 1000) : null,
    bank.temperature?.min.value ?? null,
    bank.temperature?.min.id ?? null,
    bank.temperature?.max.value ?? null,
    bank.temperature?.max.id ?? null,
    bank.mosfetTemperature?.max.value ?? null,
    bank.ambientTemperature?.min.value ?? null,
    bank.ambientTemperature?.max.value ?? null,
    bank.alarmLevel,
    bank.alarms.map((a) => `${a.code}@${a.packs.join('+')}`).join(' '),
  ];
}

const extreme = (values: readonly number[], pick: 'min' | 'max'): number | null =>
  values.length === 0 ? null : pick === 'min' ? Math.min(...values) : Math.max(...values);

/** One pack at `time` as a row of `PACKS_TABLE`; an offline pack keeps its row with what is known. */
export function packRow(time: string, p: PackSummary): Cell[] {
  const a = p.analog;
  const cells = a?.cellVoltages ?? [];
  const temps = sensorGroups(a);
  const cellMin = extreme(cells, 'min');
  const cellMax = extreme(cells, 'max');
  return [
    time,
    p.pack,
    p.online && !p.stale,
    p.ageMs,
    p.mode,
    a?.soc ?? null,
    a?.soh ?? null,
    a?.voltage ?? null,
    a?.current ?? null,
    a?.remainingAh ?? null,
    a?.fullAh ?? null,
    a?.designAh ?? null,
    a?.cycles ?? null,
    cellMin,
    cellMax,
    cellMin !== null && cellMax !== null ? Math.round((cellMax - cellMin) * 1000) : null,
    extreme(
      temps.cells.map((r) => r.value),
      'min',
    ),
    extreme(
      temps.cells.map((r) => r.value),
      'max',
    ),
    extreme(
      temps.mosfet.map((r) => r.value),
      'max',
    ),
    extreme(
      temps.ambient.map((r) => r.value),
      'max',
    ),
    p.alarms?.balancingCells.join(' ') ?? null,
    p.alarms?.chargeMos ?? null,
    p.alarms?.dischargeMos ?? null,
    p.alarms?.alarms.join(' ') ?? null,
    p.alarms?.protections.join(' ') ?? null,
    p.alarms?.faults.join(' ') ?? null,
    ...Array.from({ length: CELLS }, (_, i) => cells[i] ?? null),
  ];
}

/** `time` as local ISO time with its offset (2026-11-30T21:34:00+01:00): what a spreadsheet shows as read. */
export function localIso(ms: number): string {
  const d = new Date(ms);
  const offset = -d.getTimezoneOffset();
  const pad = (n: number, w = 2): string => String(Math.abs(n)).padStart(w, '0');
  const sign = offset >= 0 ? '+' : '-';
  return (
    `${String(d.getFullYear())}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` +
    `${sign}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`
  );
}

/** The local day (YYYY-MM-DD) of `ms`: one file per table and day. */
export const localDay = (ms: number): string => localIso(ms).slice(0, 10);
