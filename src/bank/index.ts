export { aggregateBank, type AggregateOptions, type BankAlarm, type BankState, type Extreme, type PackInput, type PackSummary } from './aggregate';
export { AlarmTracker, type ActiveAlarm, type AlarmChange, type PackCodes, type TrackerOptions } from './alarm-tracker';
export { LEVEL_RANK, codeText, type AlarmLevel } from './codes';
export { changedBeyond } from './change';
