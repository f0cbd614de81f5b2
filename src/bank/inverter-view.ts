import type { PylonConditions, PylonValues } from '../protocol/pylon-can';
import type { Located, Rs485Battery, TemperatureSummary } from '../protocol/pylon-rs485';
import type { BankState } from './aggregate';
import { DEFAULT_ALARM_THRESHOLDS, codesOf, imbalanceLevel, mappedAlarmLevels } from './alarm-levels';
import { DEFAULT_LIMIT_TABLES, type LimitTable, type LimitTables, type Limits } from './charge-control';
import { sensorGroups } from './temperatures';

/** What the bank tells the inverter about itself beyond its readings. */
export interface InverterIdentity {
  /** 0x35E / RS485 manufacturer, up to 8 ASCII characters. */
  readonly manufacturer: string;
  readonly product: string;
  readonly firmware: { readonly major: number; readonly minor: number };
  /** Ask the inverter to charge at once (force charge I) at or below this SOC; null: never. */
  readonly forceChargeSoc: number | null;
}

/** The limits to announce and whether charge and discharge are allowed at all. */
export interface InverterLimits {
  readonly limits: Limits & { readonly cvl: number };
  readonly allowToCharge: boolean;
  readonly allowToDischarge: boolean;
  /** Discharge voltage limit, V (the bank's minimum cell voltage × cells). */
  readonly dischargeVoltage: number;
  readonly blockingCharge: number;
  readonly blockingDischarge: number;
}

const mean = (values: readonly number[]): number | null =>
  values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;

/**
 * The bank as one battery in Pylon terms, from the packs counted in `bank` (fresh ones: a stale
 * pack's readings are not in the totals). Null when the bank has no counted pack with readings.
 */
export function pylonValues(bank: BankState, limits: InverterLimits, identity: InverterIdentity): PylonValues | null {
  const counted = bank.packs.filter((p) => p.online && !p.stale && p.analog);
  if (!counted.length || bank.voltage === null || bank.current === null || bank.soc === null) return null;
  const cells = bank.cellVoltage;
  const temperatures = bank.temperature;
  const cellTemperatures = counted.flatMap((p) => sensorGroups(p.analog).cells.map((r) => r.value));
  const meanTemperature = mean(cellTemperatures);
  if (!cells || !temperatures || meanTemperature === null) return null;
  const cycles = counted.map((p) => p.analog?.cycles ?? 0);
  const levels = mappedAlarmLevels(codesOf(bank.alarms, null));
  const imbalance = imbalanceLevel(bank.packs, DEFAULT_ALARM_THRESHOLDS) ?? 0;
  const conditions = (level: 1 | 2): PylonConditions => {
    const at = (...paths: string[]): boolean => paths.some((p) => levels[p] === level);
    return {
      highVoltage: at('HighCellVoltage', 'HighVoltage'),
      lowVoltage: at('LowCellVoltage', 'LowVoltage'),
      highTemperature: at('HighTemperature', 'HighChargeTemperature'),
      lowTemperature: at('LowTemperature', 'LowChargeTemperature'),
      dischargeOverCurrent: at('HighDischargeCurrent'),
      chargeOverCurrent: at('HighChargeCurrent'),
      // A pack that stopped answering is a communication warning; a BMS fault is a system error.
      systemError: level === 2 ? at('InternalFailure') : bank.packsOffline.length > 0 || bank.stalePacks.length > 0,
      cellImbalance: imbalance === level,
    };
  };
  const soc = bank.soc;
  return {
    chargeVoltage: limits.limits.cvl,
    chargeCurrent: limits.allowToCharge ? limits.limits.ccl : 0,
    dischargeCurrent: limits.allowToDischarge ? limits.limits.dcl : 0,
    dischargeVoltage: limits.dischargeVoltage,
    soc,
    soh: bank.soh ?? 100,
    voltage: bank.voltage.mean,
    current: bank.current,
    temperature: meanTemperature,
    cellVoltageMin: cells.min.value,
    cellVoltageMax: cells.max.value,
    temperatureMin: temperatures.min.value,
    temperatureMax: temperatures.max.value,
    cellVoltageMinId: cells.min.id,
    cellVoltageMaxId: cells.max.id,
    temperatureMinId: temperatures.min.id,
    temperatureMaxId: temperatures.max.id,
    modules: counted.length,
    modulesBlockingCharge: limits.blockingCharge,
    modulesBlockingDischarge: limits.blockingDischarge,
    modulesOffline: bank.packsExpected - counted.length,
    capacityAh: bank.fullAh,
    cycles: Math.max(...cycles),
    chargeEnable: limits.allowToCharge && limits.limits.ccl > 0,
    dischargeEnable: limits.allowToDischarge && limits.limits.dcl > 0,
    forceCharge1: identity.forceChargeSoc !== null && soc <= identity.forceChargeSoc,
    forceCharge2: false,
    fullChargeRequest: false,
    protection: conditions(2),
    warning: conditions(1),
    manufacturer: identity.manufacturer,
    product: identity.product,
    firmware: identity.firmware,
  };
}

/** The temperatures between which a limit table allows any current. */
function allowedRange(table: LimitTable): { low: number; high: number } {
  const allowed = table.filter(([, fraction]) => fraction > 0).map(([x]) => x);
  return { low: Math.min(...allowed), high: Math.max(...allowed) };
}

const located = (e: { readonly value: number; readonly pack: number }): Located => ({ value: e.value, pack: e.pack });

function summary(
  extremes: BankState['temperature'],
  readings: readonly number[],
  fallback: TemperatureSummary,
): TemperatureSummary {
  const m = mean(readings);
  if (!extremes || m === null) return fallback;
  return { mean: m, max: located(extremes.max), min: located(extremes.min) };
}

/**
 * The bank as one battery for Pylontech RS485 polls, from the same values the CAN side sends (so the
 * limits and the stale-data policy are the same): every counted pack's cells and sensors as one
 * module, the bank's codes, the system summary of 0x61 / 0x62.
 */
export function rs485Battery(
  bank: BankState,
  values: PylonValues,
  identity: InverterIdentity & { readonly deviceName: string },
  tables: Pick<LimitTables, 'chargeTemperature' | 'dischargeTemperature'> = DEFAULT_LIMIT_TABLES,
): Rs485Battery {
  const counted = bank.packs.filter((p) => p.online && !p.stale && p.analog);
  const analogs = counted.flatMap((p) => (p.analog ? [p.analog] : []));
  const mosfetTemps = counted.flatMap((p) => sensorGroups(p.analog).mosfet.map((r) => r.value));
  const boardTemps = counted.flatMap((p) => sensorGroups(p.analog).internal.map((r) => r.value));
  const cellTemperature = {
    mean: values.temperature,
    max: { value: values.temperatureMax, pack: bank.temperature?.max.pack ?? 0 },
    min: { value: values.temperatureMin, pack: bank.temperature?.min.pack ?? 0 },
  };
  const p = values.protection;
  const w = values.warning;
  const levels = mappedAlarmLevels(codesOf(bank.alarms, null));
  const bit = (on: boolean, n: number): number => (on ? 1 << n : 0);
  const sohs = counted.map((c) => c.analog?.soh ?? 100);
  const cells = Math.max(1, ...analogs.map((a) => a.cellVoltages.length));
  const chargeWindow = allowedRange(tables.chargeTemperature);
  const dischargeWindow = allowedRange(tables.dischargeTemperature);
  const cycles = analogs.map((a) => a.cycles);
  return {
    modules: analogs.map((a, i) => ({ ...a, pack: i + 1 })),
    moduleAlarms: counted.map((c, i) => ({
      balancingCells: [],
      alarms: [],
      protections: [],
      faults: [],
      chargeMos: c.chargeMos,
      dischargeMos: c.dischargeMos,
      ...c.alarms,
      pack: i + 1,
    })),
    limits: {
      chargeVoltage: values.chargeVoltage,
      dischargeVoltage: values.dischargeVoltage,
      chargeCurrent: values.chargeCurrent,
      dischargeCurrent: values.dischargeCurrent,
      chargeEnable: values.chargeEnable,
      dischargeEnable: values.dischargeEnable,
      forceCharge1: values.forceCharge1,
      forceCharge2: values.forceCharge2,
      fullChargeRequest: values.fullChargeRequest,
    },
    system: {
      voltage: values.voltage,
      current: values.current,
      soc: values.soc,
      cyclesMean: mean(cycles) ?? 0,
      cyclesMax: values.cycles,
      sohMean: mean(sohs) ?? 100,
      sohMin: Math.min(...sohs),
      cellMax: { value: values.cellVoltageMax, pack: bank.cellVoltage?.max.pack ?? 0 },
      cellMin: { value: values.cellVoltageMin, pack: bank.cellVoltage?.min.pack ?? 0 },
      cellTemperature,
      mosfetTemperature: summary(bank.mosfetTemperature, mosfetTemps, cellTemperature),
      bmsTemperature: summary(bank.boardTemperature, boardTemps, cellTemperature),
    },
    // The limits this bank is run to (the charge control's), not the packs' own protection settings.
    parameters: {
      cellHighVoltage: values.chargeVoltage / cells,
      cellLowVoltage: values.dischargeVoltage / cells,
      cellUnderVoltage: values.dischargeVoltage / cells,
      chargeHighTemperature: chargeWindow.high,
      chargeLowTemperature: chargeWindow.low,
      chargeCurrentLimit: values.chargeCurrent,
      moduleHighVoltage: values.chargeVoltage,
      moduleLowVoltage: values.dischargeVoltage,
      moduleUnderVoltage: values.dischargeVoltage,
      dischargeHighTemperature: dischargeWindow.high,
      dischargeLowTemperature: dischargeWindow.low,
      dischargeCurrentLimit: values.dischargeCurrent,
    },
    systemAlarms: [
      bit(levels.HighVoltage === 1, 7) |
        bit(levels.LowVoltage === 1, 6) |
        bit(levels.HighCellVoltage === 1, 5) |
        bit(levels.LowCellVoltage === 1, 4) |
        bit(w.highTemperature, 3) |
        bit(w.lowTemperature, 2) |
        bit(levels.HighInternalTemperature === 1, 1) |
        bit(w.cellImbalance, 0),
      bit(w.chargeOverCurrent, 6) | bit(w.dischargeOverCurrent, 5) | bit(w.systemError, 4),
      bit(levels.HighVoltage === 2, 7) |
        bit(levels.LowVoltage === 2, 6) |
        bit(levels.HighCellVoltage === 2, 5) |
        bit(levels.LowCellVoltage === 2, 4) |
        bit(p.highTemperature, 3) |
        bit(p.lowTemperature, 2) |
        bit(levels.HighInternalTemperature === 2, 1),
      bit(p.chargeOverCurrent, 6) | bit(p.dischargeOverCurrent, 5) | bit(p.systemError, 3),
    ],
    identity: {
      deviceName: identity.deviceName,
      manufacturer: identity.manufacturer,
      softwareVersion: identity.firmware,
      serials: counted.map(
        (c) => c.identity?.serial ?? c.identity?.packSerial ?? `PACK${String(c.pack).padStart(2, '0')}`,
      ),
    },
  };
}
