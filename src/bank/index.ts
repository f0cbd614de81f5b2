export {
  STANDBY_BELOW_A,
  aggregateBank,
  agedInputs,
  packMode,
  sensorId,
  type AggregateOptions,
  type BankAlarm,
  type BankState,
  type Extreme,
  type HeldInput,
  type PackInput,
  type PackSummary,
  type TemperatureExtremes,
} from './aggregate';
export { AlarmTracker, type ActiveAlarm, type AlarmChange, type PackCodes, type TrackerOptions } from './alarm-tracker';
export { LEVEL_RANK, OFFLINE_CODE, codeText, knownCodes, type AlarmLevel } from './codes';
export { changedBeyond } from './change';
export {
  ChargeController,
  DEFAULT_CHARGE_SETTINGS,
  DEFAULT_LIMIT_TABLES,
  evaluateTable,
  sortTable,
  type ChargeDecision,
  type ChargeMode,
  type ChargeSettings,
  type LimitTable,
  type LimitTables,
  type Limits,
} from './charge-control';
export { FreshnessGuard, plausible, type FreshnessOptions, type Freshness, type DataStage } from './freshness';
export { sensorGroups, type SensorGroups, type SensorReading } from './temperatures';
