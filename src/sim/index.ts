export {
  SimulatedBank,
  type FirmwareQuirks,
  type PaceTailBytes,
  type SimBankOptions,
  type SimDialect,
  type SimExchange,
  type SimResponder,
} from './bank';
export { ReplayBank } from './replay';
export { SimPack, type HistoryRecord } from './pack';
export { SimServer, type SimServerOptions } from './server';
export { StreamEndpoint, type SimEndpoints } from './endpoint';
export {
  NO_FAULTS,
  SimWire,
  emptyWireStats,
  type ReplyPlan,
  type SimWireStats,
  type WireFaults,
  type WireScript,
  type WireShared,
} from './wire';
export { Random } from './random';
export { SimBus, SimTransport, type SimBusOptions } from './bus';
export { ModbusBank, type ModbusFraming } from './modbus-bank';
export { SlcanInverterSim, type CanInverterSimOptions, type ReceivedFrame } from './can-inverter';
export { Rs485InverterSim, type InverterExchange, type Rs485InverterSimOptions } from './rs485-inverter';
