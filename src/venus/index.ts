export { ALARM_MAP, ALARM_PATHS, DEFAULT_ALARM_THRESHOLDS, type AlarmThresholds } from '../bank/alarm-levels';
export { PRODUCT_ID, bankItems, bankSpecs, packItems, packSpecs, type ServiceMeta } from './battery-items';
export { VenusBridge, serviceSuffix, type BridgeOptions, type BridgeReport } from './bridge';
export { BUSITEM, BusItemExporter, BusItemTree, type SetResult } from './busitem';
export { EMPTY_HISTORY, addSample, type BankHistory } from './history';
export { SETTINGS_SERVICE, instanceSettingPath, parseClassInstance } from './settings';
export { VenusService, type ServicePhase, type ServiceState, type VenusServiceOptions } from './service';
export { loadMemory, saveMemory, type BridgeMemory } from './store';
export {
  INVALID_TEXT,
  fromVariant,
  normalize,
  textOf,
  toVariant,
  type ItemSpec,
  type ItemType,
  type ItemValue,
} from './values';
export { packageVersion } from './version';
export { startPrivateBus, type PrivateBus } from './private-bus';
