import { sensorGroups, sensorId, type BankState, type ChargeDecision, type Freshness, type PackSummary } from '../bank';
import {
  ALARM_PATHS,
  COMPUTED_ALARMS,
  codesOf,
  imbalanceLevel,
  mappedAlarmLevels,
  sohLevel,
  type AlarmThresholds,
} from '../bank/alarm-levels';
import type { BankHistory } from './history';
import type { ItemSpec, ItemValue } from './values';

/**
 * 0xC065: the id Victron's own Node-RED virtual battery publishes. systemcalc keys no behaviour
 * on it (its CVL/CCL quirks and forced DVCC belong to Pylontech, BYD, LG, Pelio and Lynx ids),
 * and it does not claim to be another driver.
 */
export const PRODUCT_ID = 0xc065;

const d = (unit: string, decimals: number): ItemSpec => ({ type: 'd', unit, decimals });
const I: ItemSpec = { type: 'i' };
const S: ItemSpec = { type: 's' };

const MANDATORY: Readonly<Record<string, ItemSpec>> = {
  '/Mgmt/ProcessName': S,
  '/Mgmt/ProcessVersion': S,
  '/Mgmt/Connection': S,
  '/DeviceInstance': I,
  '/ProductId': I,
  '/ProductName': S,
  '/FirmwareVersion': S,
  '/Serial': S,
  '/Connected': I,
  '/CustomName': { type: 's', writable: true },
};

const MEASUREMENTS: Readonly<Record<string, ItemSpec>> = {
  '/Dc/0/Voltage': d('V', 2),
  '/Dc/0/Current': d('A', 1),
  '/Dc/0/Power': d('W', 0),
  '/Dc/0/Temperature': d('°C', 1),
  '/Soc': d('%', 1),
  '/Soh': d('%', 1),
  '/Capacity': d('Ah', 1),
  '/InstalledCapacity': d('Ah', 1),
  '/ConsumedAmphours': d('Ah', 1),
  '/System/MinCellVoltage': d('V', 3),
  '/System/MaxCellVoltage': d('V', 3),
  '/System/MinVoltageCellId': S,
  '/System/MaxVoltageCellId': S,
  '/System/MinCellTemperature': d('°C', 1),
  '/System/MaxCellTemperature': d('°C', 1),
  '/System/MinTemperatureCellId': S,
  '/System/MaxTemperatureCellId': S,
  '/System/NrOfCellsPerBattery': I,
  '/Balancing': I,
  '/Io/AllowToCharge': I,
  '/Io/AllowToDischarge': I,
};

const BANK_ONLY: Readonly<Record<string, ItemSpec>> = {
  '/TimeToGo': d('s', 0),
  '/Info/MaxChargeVoltage': d('V', 2),
  '/Info/MaxChargeCurrent': d('A', 1),
  '/Info/MaxDischargeCurrent': d('A', 1),
  '/Info/BatteryLowVoltage': d('V', 2),
  '/Info/MaxChargeCellVoltage': d('V', 3),
  '/Info/ChargeMode': S,
  '/Info/ChargeLimitation': S,
  '/Info/DischargeLimitation': S,
  '/System/NrOfModulesOnline': I,
  '/System/NrOfModulesOffline': I,
  '/System/NrOfModulesBlockingCharge': I,
  '/System/NrOfModulesBlockingDischarge': I,
  '/System/NrOfBatteries': I,
  '/System/BatteriesParallel': I,
  '/System/BatteriesSeries': I,
  '/History/ChargedEnergy': d('kWh', 2),
  '/History/DischargedEnergy': d('kWh', 2),
  '/History/MinimumVoltage': d('V', 2),
  '/History/MaximumVoltage': d('V', 2),
  '/History/MinimumCellVoltage': d('V', 3),
  '/History/MaximumCellVoltage': d('V', 3),
  '/History/MinimumTemperature': d('°C', 1),
  '/History/MaximumTemperature': d('°C', 1),
  '/History/TimeSinceLastFullCharge': d('s', 0),
  '/ConnectionInformation': S,
};

/** `/Alarms/<name>` under `base`, for every alarm, in `ALARM_PATHS` order. */
const alarmPathsUnder = (base: string): Readonly<Record<string, string>> =>
  Object.fromEntries(ALARM_PATHS.map((name) => [name, `${base}/Alarms/${name}`]));

/** The bank's alarm paths and each module's, made once: every publish cycle sets all of them. */
const BANK_ALARM_PATHS = alarmPathsUnder('');
const modulePathCache: { id: string; alarms: Readonly<Record<string, string>> }[] = [];
function modulePaths(n: number): { id: string; alarms: Readonly<Record<string, string>> } {
  const known = modulePathCache[n];
  if (known) return known;
  const base = `/Diagnostics/Module${String(n)}`;
  const made = { id: `${base}/Id`, alarms: alarmPathsUnder(base) };
  modulePathCache[n] = made;
  return made;
}

const MODULE_ITEMS = (n: number): [string, ItemSpec][] => [
  [modulePaths(n).id, S],
  ...ALARM_PATHS.map((a): [string, ItemSpec] => [modulePaths(n).alarms[a] ?? '', I]),
];

const alarmSpecs = (): [string, ItemSpec][] => ALARM_PATHS.map((a) => [BANK_ALARM_PATHS[a] ?? '', I]);

/** The bank service: every path it will ever publish, fixed before the name is claimed. */
export function bankSpecs(packNumbers: readonly number[]): Map<string, ItemSpec> {
  return new Map<string, ItemSpec>([
    ...Object.entries(MANDATORY),
    ...Object.entries(MEASUREMENTS),
    ...Object.entries(BANK_ONLY),
    ...alarmSpecs(),
    ...packNumbers.flatMap((p) => MODULE_ITEMS(p - 1)),
  ]);
}

/** A per-pack service: measurements and alarms, never `/Info/*` (that would make it a BMS). */
export function packSpecs(): Map<string, ItemSpec> {
  return new Map<string, ItemSpec>([...Object.entries(MANDATORY), ...Object.entries(MEASUREMENTS), ...alarmSpecs()]);
}

export interface ServiceMeta {
  readonly processName: string;
  readonly processVersion: string;
  readonly connection: string;
  readonly productName: string;
  readonly firmware: string | null;
  readonly serial: string | null;
  readonly customName: string;
}

type Values = Record<string, ItemValue>;

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

function mandatory(meta: ServiceMeta): Values {
  return {
    '/Mgmt/ProcessName': meta.processName,
    '/Mgmt/ProcessVersion': meta.processVersion,
    '/Mgmt/Connection': meta.connection,
    '/ProductId': PRODUCT_ID,
    '/ProductName': meta.productName,
    '/FirmwareVersion': meta.firmware,
    '/Serial': meta.serial,
    '/Connected': 1,
    '/CustomName': meta.customName,
  };
}

interface CellTemperatures {
  readonly min: { value: number; id: string } | null;
  readonly max: { value: number; id: string } | null;
  /** What the GX is given as the battery temperature (see `representative`). */
  readonly representative: number | null;
}

/** The temperature cells are comfortable at: the GX gets the cell sensor furthest from it. */
const COMFORT_C = 25;

function cellTemperatures(packs: readonly PackSummary[]): CellTemperatures {
  let min: { value: number; id: string } | null = null;
  let max: { value: number; id: string } | null = null;
  for (const p of packs) {
    for (const r of sensorGroups(p.analog).cells) {
      if (!min || r.value < min.value) min = { value: r.value, id: sensorId(p.pack, 'T', r.sensor) };
      if (!max || r.value > max.value) max = { value: r.value, id: sensorId(p.pack, 'T', r.sensor) };
    }
  }
  // The GX's temperature decisions (a charger's low-temperature cut-off through shared temperature
  // sense, its high-temperature warning, the overview) must see the worst pack, not an average that
  // hides a pack at 3 °C among warm ones: the coldest cell sensor when that is further from comfort
  // than the hottest, else the hottest.
  const worst = min && max ? (COMFORT_C - min.value >= max.value - COMFORT_C ? min.value : max.value) : null;
  return { min, max, representative: worst };
}

function measurementsOf(
  packs: readonly PackSummary[],
  totals: {
    voltage: number | null;
    current: number | null;
    power: number | null;
    soc: number | null;
    soh: number | null;
    remainingAh: number | null;
    fullAh: number | null;
    installedAh: number | null;
    balancing: boolean;
    allowToCharge: boolean;
    allowToDischarge: boolean;
  },
): Values {
  // The first lowest and first highest cell of the bank, in pack order: one pass over 240 cells
  // per publish, ids made only for the two found.
  let minCell: { v: number; pack: number; cell: number } | null = null;
  let maxCell: { v: number; pack: number; cell: number } | null = null;
  for (const p of packs) {
    const voltages = p.analog?.cellVoltages ?? [];
    for (let i = 0; i < voltages.length; i++) {
      const v = voltages[i] ?? 0;
      if (minCell === null || v < minCell.v) minCell = { v, pack: p.pack, cell: i + 1 };
      if (maxCell === null || v > maxCell.v) maxCell = { v, pack: p.pack, cell: i + 1 };
    }
  }
  const temps = cellTemperatures(packs);
  const cellsPerPack = packs.length ? Math.max(...packs.map((p) => p.analog?.cellVoltages.length ?? 0)) : null;
  return {
    '/Dc/0/Voltage': totals.voltage,
    '/Dc/0/Current': totals.current,
    '/Dc/0/Power': totals.power,
    '/Dc/0/Temperature': temps.representative,
    '/Soc': totals.soc,
    '/Soh': totals.soh,
    '/Capacity': totals.remainingAh,
    '/InstalledCapacity': totals.installedAh,
    // Victron monitors count Ah taken since full as negative.
    '/ConsumedAmphours':
      totals.remainingAh !== null && totals.fullAh !== null ? -(totals.fullAh - totals.remainingAh) : null,
    '/System/MinCellVoltage': minCell?.v ?? null,
    '/System/MaxCellVoltage': maxCell?.v ?? null,
    '/System/MinVoltageCellId': minCell ? sensorId(minCell.pack, 'C', minCell.cell) : null,
    '/System/MaxVoltageCellId': maxCell ? sensorId(maxCell.pack, 'C', maxCell.cell) : null,
    '/System/MinCellTemperature': temps.min?.value ?? null,
    '/System/MaxCellTemperature': temps.max?.value ?? null,
    '/System/MinTemperatureCellId': temps.min?.id ?? null,
    '/System/MaxTemperatureCellId': temps.max?.id ?? null,
    '/System/NrOfCellsPerBattery': cellsPerPack || null,
    '/Balancing': totals.balancing ? 1 : 0,
    '/Io/AllowToCharge': totals.allowToCharge ? 1 : 0,
    '/Io/AllowToDischarge': totals.allowToDischarge ? 1 : 0,
  };
}

const invalidAll = (specs: Readonly<Record<string, ItemSpec>>): Values =>
  Object.fromEntries(Object.keys(specs).map((k) => [k, null]));

export interface BankItemsInput {
  readonly bank: BankState;
  readonly decision: ChargeDecision;
  readonly freshness: Freshness;
  readonly history: BankHistory;
  readonly meta: ServiceMeta;
  readonly thresholds: AlarmThresholds;
  readonly now: number;
}

/** `/Alarms/BmsCable`: silent packs and doubtful data warn; only a lost BMS is an alarm. */
const CABLE_LEVEL: Readonly<Record<Freshness['stage'], 0 | 1 | 2>> = { 0: 0, 1: 1, 2: 1, 3: 2 };

/**
 * Every bank-service value for one publish cycle. From stage 2 on, nothing measured is fresh:
 * measurements and alarms are invalid (unknown), the limits are the controller's held ones.
 */
export function bankItems({ bank, decision, freshness, history, meta, thresholds, now }: BankItemsInput): Values {
  const lost = freshness.stage >= 2;
  const counted = bank.packs.filter((p) => !p.stale);
  const values: Values = { ...mandatory(meta) };
  const installedAh = counted.length ? sum(counted.map((p) => p.analog?.designAh ?? p.analog?.fullAh ?? 0)) : null;
  Object.assign(
    values,
    lost
      ? invalidAll(MEASUREMENTS)
      : measurementsOf(counted, {
          voltage: bank.voltage?.mean ?? null,
          current: bank.current,
          power: bank.power,
          soc: bank.soc,
          soh: bank.soh,
          remainingAh: counted.length ? bank.remainingAh : null,
          fullAh: counted.length ? bank.fullAh : null,
          installedAh,
          balancing: bank.balancing,
          allowToCharge: decision.allowToCharge,
          allowToDischarge: decision.allowToDischarge,
        }),
  );
  if (lost)
    Object.assign(values, {
      '/Io/AllowToCharge': decision.allowToCharge ? 1 : 0,
      '/Io/AllowToDischarge': decision.allowToDischarge ? 1 : 0,
    });

  const discharging = !lost && bank.current !== null && bank.current < -0.5 && counted.length > 0;
  values['/TimeToGo'] = discharging ? Math.round((bank.remainingAh / -bank.current) * 3600) : null;

  const limits = decision.published;
  Object.assign(values, {
    '/Info/MaxChargeVoltage': limits.cvl,
    '/Info/MaxChargeCurrent': limits.ccl,
    '/Info/MaxDischargeCurrent': limits.dcl,
    '/Info/BatteryLowVoltage': decision.batteryLowVoltage,
    '/Info/MaxChargeCellVoltage': decision.maxChargeCellVoltage,
    '/Info/ChargeMode': decision.modeText,
    '/Info/ChargeLimitation': decision.chargeLimitation,
    '/Info/DischargeLimitation': decision.dischargeLimitation,
    '/System/NrOfModulesOnline': lost ? 0 : counted.length,
    '/System/NrOfModulesOffline': lost ? bank.packsExpected : bank.stalePacks.length,
    '/System/NrOfModulesBlockingCharge': lost ? null : decision.blockingCharge.length,
    '/System/NrOfModulesBlockingDischarge': lost ? null : decision.blockingDischarge.length,
    '/System/NrOfBatteries': bank.packsExpected,
    '/System/BatteriesParallel': bank.packsExpected,
    '/System/BatteriesSeries': 1,
    '/History/ChargedEnergy': history.chargedKwh,
    '/History/DischargedEnergy': history.dischargedKwh,
    '/History/MinimumVoltage': history.minVoltage,
    '/History/MaximumVoltage': history.maxVoltage,
    '/History/MinimumCellVoltage': history.minCellVoltage,
    '/History/MaximumCellVoltage': history.maxCellVoltage,
    '/History/MinimumTemperature': history.minTemperature,
    '/History/MaximumTemperature': history.maxTemperature,
    '/History/TimeSinceLastFullCharge':
      history.lastFullChargeAt === null ? null : Math.max(0, Math.round((now - history.lastFullChargeAt) / 1000)),
    '/ConnectionInformation': `${String(lost ? 0 : counted.length)}/${String(bank.packsExpected)} packs${freshness.reason ? ` · ${freshness.reason}` : ''}`,
  });

  // Alarms from stale data would be guesses: unknown (invalid) once the data is lost.
  setAlarms(values, BANK_ALARM_PATHS, lost ? null : mappedAlarmLevels(codesOf(bank.alarms, null)), {
    CellImbalance: lost ? null : imbalanceLevel(counted, thresholds),
    StateOfHealth: lost ? null : sohLevel(bank.soh, thresholds),
    BmsCable: CABLE_LEVEL[freshness.stage],
  });

  for (const p of bank.packs) {
    const paths = modulePaths(p.pack - 1);
    const serial = p.identity?.packSerial ?? p.identity?.serial;
    values[paths.id] = `Pack ${String(p.pack)}${serial ? ` ${serial}` : ''}`;
    const fresh = !p.stale && !lost;
    setAlarms(values, paths.alarms, fresh ? mappedAlarmLevels(codesOf(bank.alarms, p.pack)) : null, {
      CellImbalance: fresh ? imbalanceLevel([p], thresholds) : null,
      StateOfHealth: fresh ? sohLevel(p.analog?.soh ?? null, thresholds) : null,
      BmsCable: lost ? CABLE_LEVEL[freshness.stage] : p.stale ? 1 : 0,
    });
  }
  return values;
}

/** Every alarm path: the mapped levels (null: all unknown), then the computed alarms. */
function setAlarms(
  values: Values,
  paths: Readonly<Record<string, string>>,
  mapped: Readonly<Record<string, 0 | 1 | 2>> | null,
  computed: Readonly<Record<(typeof COMPUTED_ALARMS)[number], 0 | 1 | 2 | null>>,
): void {
  const computedLevels: Readonly<Record<string, 0 | 1 | 2 | null>> = computed;
  for (const name of ALARM_PATHS) {
    const path = paths[name];
    if (path !== undefined)
      values[path] = name in computedLevels ? (computedLevels[name] ?? null) : (mapped?.[name] ?? null);
  }
}

/** One pack as its own (optional) service. */
export function packItems(
  pack: PackSummary,
  bank: BankState,
  meta: ServiceMeta,
  thresholds: AlarmThresholds,
  stage: Freshness['stage'],
): Values {
  const values: Values = { ...mandatory(meta) };
  const lost = stage >= 2;
  const fresh = !pack.stale && !lost;
  const a = pack.analog;
  Object.assign(
    values,
    !fresh || !a
      ? invalidAll(MEASUREMENTS)
      : measurementsOf([pack], {
          voltage: a.voltage,
          current: a.current,
          power: a.voltage * a.current,
          soc: a.soc,
          soh: a.soh,
          remainingAh: a.remainingAh,
          fullAh: a.fullAh,
          installedAh: a.designAh ?? a.fullAh,
          balancing: (pack.alarms?.balancingCells.length ?? 0) > 0,
          allowToCharge: pack.alarms?.chargeMos !== false,
          allowToDischarge: pack.alarms?.dischargeMos !== false,
        }),
  );
  setAlarms(values, BANK_ALARM_PATHS, fresh ? mappedAlarmLevels(codesOf(bank.alarms, pack.pack)) : null, {
    CellImbalance: fresh ? imbalanceLevel([pack], thresholds) : null,
    StateOfHealth: fresh ? sohLevel(a?.soh ?? null, thresholds) : null,
    BmsCable: lost ? CABLE_LEVEL[stage] : fresh ? 0 : 1,
  });
  return values;
}
