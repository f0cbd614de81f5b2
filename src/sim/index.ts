export { SimulatedBank, type SimBankOptions, type SimDialect, type SimExchange } from './bank';
export { SimPack, type HistoryRecord } from './pack';
export { SimServer, type SimEndpoints, type SimServerOptions, type SimWireStats, type WireFaults } from './server';
export { Random } from './random';
