import type { BankState, PackSummary } from '../bank/aggregate';
import { sensorGroups, type SensorReading } from '../bank/temperatures';
import { round } from '../round';

/** A value in a state payload: null renders as `None`, which Home Assistant shows as unknown. */
export type StateValue = number | string | null;

/**
 * One Home Assistant entity: its discovery fields and where its value comes from. The `key` is the
 * field in the device's JSON state payload and the last part of its `unique_id`.
 */
export interface EntityDef<S> {
  readonly key: string;
  readonly component: 'sensor' | 'binary_sensor';
  readonly name: string;
  readonly deviceClass?: string;
  readonly stateClass?: 'measurement' | 'total_increasing';
  readonly unit?: string;
  /** Decimals shown, and the precision a change must reach to be published. */
  readonly precision?: number;
  readonly category?: 'diagnostic';
  readonly icon?: string;
  /** For `enum` sensors: every state the sensor can take. */
  readonly options?: readonly string[];
  /** A topic (relative to the device's) carrying a JSON object of attributes: codes and texts. */
  readonly attributes?: AttributeTopic;
  readonly value: (source: S) => StateValue | boolean;
}

export type AttributeTopic = 'warnings' | 'protections' | 'faults' | 'alarms';

/** Rounded to the entity's precision, so a change below it is no change; booleans as ON / OFF. */
export function stateOf<S>(entity: EntityDef<S>, source: S): StateValue {
  const v = entity.value(source);
  if (typeof v === 'boolean') return v ? 'ON' : 'OFF';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return null;
    // + 0 turns -0 into 0: a rounded "-0.0 A" would count as a change from "0.0 A".
    return round(v, entity.precision ?? 3) + 0;
  }
  return v;
}

/**
 * Home Assistant's battery convention ("Standard" in the Energy dashboard): power and current
 * positive while discharging. The BMS reports them positive while charging.
 */
const discharging = (value: number | null | undefined): number | null => (typeof value === 'number' ? -value : null);

const maxOf = (readings: readonly SensorReading[]): number | null =>
  readings.length ? readings.reduce((m, r) => Math.max(m, r.value), -Infinity) : null;
const minOf = (readings: readonly SensorReading[]): number | null =>
  readings.length ? readings.reduce((m, r) => Math.min(m, r.value), Infinity) : null;

const voltage = { deviceClass: 'voltage', stateClass: 'measurement', unit: 'V' } as const;
const current = { deviceClass: 'current', stateClass: 'measurement', unit: 'A', precision: 1 } as const;
const power = { deviceClass: 'power', stateClass: 'measurement', unit: 'W', precision: 0 } as const;
const temperature = { deviceClass: 'temperature', stateClass: 'measurement', unit: '°C', precision: 1 } as const;
const amphours = { stateClass: 'measurement', unit: 'Ah', precision: 1, icon: 'mdi:battery-arrow-up-outline' } as const;
const energy = { deviceClass: 'energy', stateClass: 'total_increasing', unit: 'kWh', precision: 3 } as const;

/** What the bank device shows: the aggregation plus this node's energy counters. */
export interface BankSource {
  readonly bank: BankState;
  readonly chargedKwh: number;
  readonly dischargedKwh: number;
}

export const BANK_ENTITIES: readonly EntityDef<BankSource>[] = [
  {
    key: 'voltage',
    component: 'sensor',
    name: 'Voltage',
    ...voltage,
    precision: 2,
    value: (s) => s.bank.voltage?.mean ?? null,
  },
  { key: 'current', component: 'sensor', name: 'Current', ...current, value: (s) => discharging(s.bank.current) },
  { key: 'power', component: 'sensor', name: 'Power', ...power, value: (s) => discharging(s.bank.power) },
  {
    key: 'soc',
    component: 'sensor',
    name: 'State of charge',
    deviceClass: 'battery',
    stateClass: 'measurement',
    unit: '%',
    precision: 0,
    value: (s) => s.bank.soc,
  },
  {
    key: 'soh',
    component: 'sensor',
    name: 'State of health',
    stateClass: 'measurement',
    unit: '%',
    precision: 0,
    icon: 'mdi:heart-pulse',
    value: (s) => s.bank.soh,
  },
  {
    key: 'remaining_ah',
    component: 'sensor',
    name: 'Remaining capacity',
    ...amphours,
    value: (s) => s.bank.remainingAh,
  },
  { key: 'full_ah', component: 'sensor', name: 'Full capacity', ...amphours, value: (s) => s.bank.fullAh },
  {
    key: 'cell_min',
    component: 'sensor',
    name: 'Lowest cell voltage',
    ...voltage,
    precision: 3,
    value: (s) => s.bank.cellVoltage?.min.value ?? null,
  },
  {
    key: 'cell_max',
    component: 'sensor',
    name: 'Highest cell voltage',
    ...voltage,
    precision: 3,
    value: (s) => s.bank.cellVoltage?.max.value ?? null,
  },
  {
    key: 'cell_spread',
    component: 'sensor',
    name: 'Cell voltage spread',
    ...voltage,
    unit: 'mV',
    precision: 0,
    value: (s) => (s.bank.cellVoltage ? s.bank.cellVoltage.spread * 1000 : null),
  },
  {
    key: 'cell_min_id',
    component: 'sensor',
    name: 'Lowest cell',
    icon: 'mdi:battery-low',
    value: (s) => s.bank.cellVoltage?.min.id ?? null,
  },
  {
    key: 'cell_max_id',
    component: 'sensor',
    name: 'Highest cell',
    icon: 'mdi:battery-high',
    value: (s) => s.bank.cellVoltage?.max.id ?? null,
  },
  {
    key: 'temp_min',
    component: 'sensor',
    name: 'Lowest cell temperature',
    ...temperature,
    value: (s) => s.bank.temperature?.min.value ?? null,
  },
  {
    key: 'temp_max',
    component: 'sensor',
    name: 'Highest cell temperature',
    ...temperature,
    value: (s) => s.bank.temperature?.max.value ?? null,
  },
  {
    key: 'temp_mosfet_max',
    component: 'sensor',
    name: 'Highest MOSFET temperature',
    ...temperature,
    category: 'diagnostic',
    value: (s) => s.bank.mosfetTemperature?.max.value ?? null,
  },
  {
    key: 'packs_online',
    component: 'sensor',
    name: 'Packs online',
    stateClass: 'measurement',
    precision: 0,
    icon: 'mdi:battery-check',
    value: (s) => s.bank.packsOnline,
  },
  {
    key: 'packs_expected',
    component: 'sensor',
    name: 'Packs expected',
    precision: 0,
    icon: 'mdi:battery-sync',
    category: 'diagnostic',
    value: (s) => s.bank.packsExpected,
  },
  { key: 'charged', component: 'sensor', name: 'Energy charged', ...energy, value: (s) => s.chargedKwh },
  { key: 'discharged', component: 'sensor', name: 'Energy discharged', ...energy, value: (s) => s.dischargedKwh },
  {
    key: 'balancing',
    component: 'binary_sensor',
    name: 'Balancing',
    deviceClass: 'running',
    value: (s) => s.bank.balancing,
  },
  {
    key: 'alarm',
    component: 'binary_sensor',
    name: 'Alarm',
    deviceClass: 'problem',
    attributes: 'alarms',
    value: (s) => s.bank.alarmLevel !== 'none',
  },
];

/** What a bms-venus node reports (its `msg.payload`): the part shown in Home Assistant. */
export interface ControlSource {
  readonly stage: number;
  readonly stageText: string;
  readonly modeText: string;
  readonly published: { readonly cvl: number | null; readonly ccl: number; readonly dcl: number };
}

/** On the bank device once a bms-venus node reports: the limits the GX receives and why. */
export const CONTROL_ENTITIES: readonly EntityDef<ControlSource>[] = [
  {
    key: 'cvl',
    component: 'sensor',
    name: 'Charge voltage limit',
    ...voltage,
    precision: 2,
    category: 'diagnostic',
    value: (s) => s.published.cvl,
  },
  {
    key: 'ccl',
    component: 'sensor',
    name: 'Charge current limit',
    ...current,
    precision: 0,
    category: 'diagnostic',
    value: (s) => s.published.ccl,
  },
  {
    key: 'dcl',
    component: 'sensor',
    name: 'Discharge current limit',
    ...current,
    precision: 0,
    category: 'diagnostic',
    value: (s) => s.published.dcl,
  },
  {
    key: 'stage',
    component: 'sensor',
    name: 'Data stage',
    precision: 0,
    category: 'diagnostic',
    icon: 'mdi:shield-check',
    value: (s) => s.stage,
  },
  {
    key: 'stage_text',
    component: 'sensor',
    name: 'Data stage text',
    category: 'diagnostic',
    icon: 'mdi:shield-check',
    value: (s) => s.stageText,
  },
  {
    key: 'charge_mode',
    component: 'sensor',
    name: 'Charge mode',
    category: 'diagnostic',
    icon: 'mdi:battery-charging',
    value: (s) => s.modeText,
  },
];

const MODES = ['charging', 'discharging', 'standby', 'float', 'shutdown'] as const;

const cellsOf = (p: PackSummary): readonly number[] => p.analog?.cellVoltages ?? [];
const cellMin = (p: PackSummary): number | null => (cellsOf(p).length ? Math.min(...cellsOf(p)) : null);
const cellMax = (p: PackSummary): number | null => (cellsOf(p).length ? Math.max(...cellsOf(p)) : null);

export const PACK_ENTITIES: readonly EntityDef<PackSummary>[] = [
  { key: 'voltage', component: 'sensor', name: 'Voltage', ...voltage, precision: 2, value: (p) => p.voltage },
  { key: 'current', component: 'sensor', name: 'Current', ...current, value: (p) => discharging(p.current) },
  {
    key: 'power',
    component: 'sensor',
    name: 'Power',
    ...power,
    value: (p) => (p.voltage !== null && p.current !== null ? -p.voltage * p.current : null),
  },
  {
    key: 'soc',
    component: 'sensor',
    name: 'State of charge',
    deviceClass: 'battery',
    stateClass: 'measurement',
    unit: '%',
    precision: 0,
    value: (p) => p.soc,
  },
  {
    key: 'soh',
    component: 'sensor',
    name: 'State of health',
    stateClass: 'measurement',
    unit: '%',
    precision: 0,
    icon: 'mdi:heart-pulse',
    value: (p) => p.analog?.soh ?? null,
  },
  {
    key: 'remaining_ah',
    component: 'sensor',
    name: 'Remaining capacity',
    ...amphours,
    value: (p) => p.analog?.remainingAh ?? null,
  },
  { key: 'full_ah', component: 'sensor', name: 'Full capacity', ...amphours, value: (p) => p.analog?.fullAh ?? null },
  {
    key: 'design_ah',
    component: 'sensor',
    name: 'Design capacity',
    ...amphours,
    category: 'diagnostic',
    value: (p) => p.analog?.designAh ?? null,
  },
  {
    key: 'cycles',
    component: 'sensor',
    name: 'Cycles',
    stateClass: 'total_increasing',
    precision: 0,
    icon: 'mdi:battery-sync',
    category: 'diagnostic',
    value: (p) => p.analog?.cycles ?? null,
  },
  { key: 'cell_min', component: 'sensor', name: 'Lowest cell voltage', ...voltage, precision: 3, value: cellMin },
  { key: 'cell_max', component: 'sensor', name: 'Highest cell voltage', ...voltage, precision: 3, value: cellMax },
  {
    key: 'cell_spread',
    component: 'sensor',
    name: 'Cell voltage spread',
    ...voltage,
    unit: 'mV',
    precision: 0,
    value: (p) => {
      const lo = cellMin(p);
      const hi = cellMax(p);
      return lo === null || hi === null ? null : (hi - lo) * 1000;
    },
  },
  {
    key: 'cell_min_n',
    component: 'sensor',
    name: 'Lowest cell',
    precision: 0,
    icon: 'mdi:battery-low',
    value: (p) => {
      const lo = cellMin(p);
      return lo === null ? null : cellsOf(p).indexOf(lo) + 1;
    },
  },
  {
    key: 'cell_max_n',
    component: 'sensor',
    name: 'Highest cell',
    precision: 0,
    icon: 'mdi:battery-high',
    value: (p) => {
      const hi = cellMax(p);
      return hi === null ? null : cellsOf(p).indexOf(hi) + 1;
    },
  },
  {
    key: 'temp_cells_min',
    component: 'sensor',
    name: 'Lowest cell temperature',
    ...temperature,
    value: (p) => minOf(sensorGroups(p.analog).cells),
  },
  {
    key: 'temp_cells_max',
    component: 'sensor',
    name: 'Highest cell temperature',
    ...temperature,
    value: (p) => maxOf(sensorGroups(p.analog).cells),
  },
  {
    key: 'temp_mosfet',
    component: 'sensor',
    name: 'MOSFET temperature',
    ...temperature,
    value: (p) => maxOf(sensorGroups(p.analog).mosfet),
  },
  {
    key: 'temp_ambient',
    component: 'sensor',
    name: 'Ambient temperature',
    ...temperature,
    value: (p) => maxOf(sensorGroups(p.analog).ambient),
  },
  {
    key: 'temp_board',
    component: 'sensor',
    name: 'BMS board temperature',
    ...temperature,
    value: (p) => maxOf(sensorGroups(p.analog).board),
  },
  {
    key: 'mode',
    component: 'sensor',
    name: 'Mode',
    deviceClass: 'enum',
    options: MODES,
    icon: 'mdi:battery-charging',
    value: (p) => p.mode,
  },
  {
    key: 'balancing',
    component: 'binary_sensor',
    name: 'Balancing',
    deviceClass: 'running',
    value: (p) => (p.alarms ? p.alarms.balancingCells.length > 0 : null),
  },
  {
    key: 'charge_mos',
    component: 'binary_sensor',
    name: 'Charge MOSFET',
    deviceClass: 'power',
    value: (p) => p.chargeMos,
  },
  {
    key: 'discharge_mos',
    component: 'binary_sensor',
    name: 'Discharge MOSFET',
    deviceClass: 'power',
    value: (p) => p.dischargeMos,
  },
  {
    key: 'heater',
    component: 'binary_sensor',
    name: 'Heater',
    deviceClass: 'heat',
    value: (p) => p.alarms?.state?.heater ?? null,
  },
  {
    key: 'warning',
    component: 'binary_sensor',
    name: 'Warning',
    deviceClass: 'problem',
    attributes: 'warnings',
    value: (p) => (p.alarms ? p.alarms.alarms.length > 0 : null),
  },
  {
    key: 'protection',
    component: 'binary_sensor',
    name: 'Protection',
    deviceClass: 'problem',
    attributes: 'protections',
    value: (p) => (p.alarms ? p.alarms.protections.some((c) => c !== 'FULLY') : null),
  },
  {
    key: 'fault',
    component: 'binary_sensor',
    name: 'Fault',
    deviceClass: 'problem',
    attributes: 'faults',
    value: (p) => (p.alarms ? p.alarms.faults.length > 0 : null),
  },
];

/**
 * Entities a pack has no sensor for are not announced: a pack without an ambient sensor gets no
 * ambient entity (it would stay unknown forever), one without a heater no heater.
 */
export function packHas(entity: EntityDef<PackSummary>, pack: PackSummary): boolean {
  const groups = sensorGroups(pack.analog);
  switch (entity.key) {
    case 'temp_cells_min':
    case 'temp_cells_max':
      return groups.cells.length > 0;
    case 'temp_mosfet':
      return groups.mosfet.length > 0;
    case 'temp_ambient':
      return groups.ambient.length > 0;
    case 'temp_board':
      return groups.board.length > 0;
    case 'heater':
      return pack.alarms?.state?.heater !== null && pack.alarms?.state?.heater !== undefined;
    case 'soh':
      return pack.analog?.soh !== null;
    case 'design_ah':
      return pack.analog?.designAh !== null;
    default:
      return true;
  }
}

/** Per-cell entities (optional): voltage and balancing of cell `n` (1-based). */
export function cellEntities(cells: number): EntityDef<PackSummary>[] {
  const list: EntityDef<PackSummary>[] = [];
  for (let n = 1; n <= cells; n++) {
    const nn = String(n).padStart(2, '0');
    list.push(
      {
        key: `cell_${nn}`,
        component: 'sensor',
        name: `Cell ${nn} voltage`,
        ...voltage,
        precision: 3,
        value: (p) => p.analog?.cellVoltages[n - 1] ?? null,
      },
      {
        key: `cell_${nn}_balancing`,
        component: 'binary_sensor',
        name: `Cell ${nn} balancing`,
        deviceClass: 'running',
        category: 'diagnostic',
        value: (p) => (p.alarms ? p.alarms.balancingCells.includes(n) : null),
      },
    );
  }
  return list;
}
