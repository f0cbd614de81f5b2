export { LinkError, asError, isLinkError, type LinkErrorKind } from './errors';
export {
  BmsLink,
  LinkSession,
  defaultAccept,
  type LinkOptions,
  type LinkState,
  type LinkStats,
  type Priority,
  type Reply,
  type RequestOptions,
  type SyncRequest,
  type Framing,
  type ModbusFrame,
  type ModbusRequestOptions,
} from './link';
export {
  BmsClient,
  addressed,
  clientFor,
  readSerial,
  type CallOptions,
  type CallResult,
  type ClientOptions,
  type BankProtocol,
  type CommandData,
  type DataOf,
  type ParameterClient,
  type PollClient,
  type PollResult,
} from './client';
export { ModbusClient } from './modbus-client';
export { detect, detectPort, type BankMode, type Detection, type DetectOptions } from './detect';
export {
  BankPoller,
  packPayload,
  type BankCycle,
  type PackPayload,
  type PackReading,
  type PackStatus,
  type PollerOptions,
} from './poller';
export { isMissingPort, listSerialPorts } from './ports';
export { createTransport, isTcpPort, portKey, type Transport, type TransportOptions } from './transport';
export {
  BankConnection,
  SITUATION_TEXTS,
  type ConnectionOptions,
  type ConnectionPhase,
  type ConnectionSituation,
  type ConnectionState,
} from './connection';
export {
  ParameterJobError,
  readGroup,
  readGroupConfirmed,
  readParameters,
  restoreFactoryDefaults,
  restoreGroups,
  runParameterJob,
  writeGroups,
  writeIdentity,
  type AuditRecord,
  type FieldMismatch,
  type IdentityChange,
  type IdentityOutcome,
  type JobHooks,
  type PackOutcome,
  type ParameterJob,
  type WriteResult,
} from './params';
export {
  EMPTY_CURSOR,
  clearHistory,
  downloadHistory,
  historyToCsv,
  readStorageInterval,
  setStorageInterval,
  type DownloadOptions,
  type DownloadResult,
  type HistoryCursor,
  type HistoryProgress,
  type HistoryEntry,
} from './history';
export {
  ControlError,
  SWITCH_NAMES,
  readClock,
  readInverterProtocol,
  setClock,
  setSwitch,
  shutdown,
  writeInverterProtocol,
  type ClockReading,
  type InverterProtocols,
  type SwitchName,
  type SwitchResult,
} from './control';
export { DisturbedError, UnconfirmedError, readUntilAgreed } from './confirm';
export { CaptureWriter, SerialScrambler, parseCapture, type CaptureHeader, type CaptureLine } from './capture';
export { describeWireEvent, type WireEvent } from './trace';
export {
  buildDiagnosis,
  describeDiagnosis,
  type CommandTiming,
  type DiagnosisBundle,
  type DiagnosisInput,
} from './diagnose';
