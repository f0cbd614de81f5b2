export { FrameError, isFrameError, rtnName, type FrameErrorKind } from './errors';
export { bytesToHex, hexToBytes } from './bytes';
export { encodeFrame, parseFrame, frameChecksum, lengthField, MAX_FRAME_CHARS, type Frame } from './frame';
export { FrameStreamParser, type StreamEvent, type StreamParserOptions } from './stream';
export {
  ALL_PACKS,
  DIALECTS,
  DIALECT_PROFILES,
  commandKind,
  isDialect,
  type CommandKind,
  type Dialect,
  type DialectProfile,
} from './dialect';
export { COMMANDS, commandNames, findCommand, type CommandSpec } from './commands';
export { PARAMETER_GROUPS, parameterCommand, type ParameterGroup } from './parameters';
export {
  decodeStatusBytes,
  reportableState,
  supportedCodes,
  unknownStatusBits,
  type UnknownBits,
  type AlarmGroup,
  type AlarmsData,
  type PackAlarms,
  type PackMode,
  type PackState,
} from './alarms';
export type { AnalogData, PackAnalog, AnalogEncodeOptions } from './analog';
export { temperatureLabel, temperatureRoles, type TemperatureRole } from './temperature-roles';
export type { Fields } from './codec';
export { decodeRequest, encodeRequest, type DecodedRequest, type FrameHeaderOptions } from './request';
export {
  decodeResponse,
  encodeErrorResponse,
  encodeResponse,
  resolveDialect,
  type DecodeErrorName,
  type DecodeOptions,
  type DecodeResult,
  type ResponseOptions,
} from './response';
export { formatLocalTime } from './clock';
export {
  PARAMETER_FIELDS,
  ParameterError,
  checkParameters,
  planParameters,
  type ParameterChange,
  type ParameterPlan,
  type ParameterSet,
  type PlanContext,
} from './parameter-rules';
export { inverterProtocolCode, inverterProtocolName, inverterProtocols, type InverterPort } from './inverter-protocols';
export type { PackChargeLimits, PackIdentity } from './identity';
export {
  MAX_READ_REGISTERS,
  MAX_WRITE_REGISTERS,
  ModbusError,
  READ_HOLDING,
  WRITE_MULTIPLE,
  bytesHex,
  crc16Modbus,
  decodeReplyPdu,
  decodeRequestPdu,
  decodeRtuRequest,
  encodeMbap,
  encodePdu,
  encodeReadReplyPdu,
  encodeRtu,
  encodeRtuRequest,
  exceptionName,
  replyRegisters,
  rtuReplyLength,
  type ModbusErrorKind,
  type ModbusReply,
  type ModbusRequest,
} from './modbus';
export { MbapStreamFramer, RtuStreamFramer, type MbapStreamEvent, type ModbusStreamEvent } from './modbus-stream';
export {
  CELL_SLOTS,
  IDENTITY_BLOCKS,
  MODBUS_PARAMETER_GROUPS,
  PARAMETER_BLOCK,
  REALTIME_BLOCK,
  REALTIME_SAFE_BLOCKS,
  decodeModbusAlarms,
  decodeModbusAnalog,
  decodeModbusIdentity,
  decodeModbusParameters,
  encodeModbusGroup,
  encodeModbusRealtime,
  registerText,
  registersOf,
  textRegisters,
  unknownModbusBits,
  type RegisterBlock,
  type RegisterGroup,
  type RegisterRun,
  type Registers,
} from './pace-modbus';
