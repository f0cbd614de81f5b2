export { LinkError, isLinkError, type LinkErrorKind } from './errors';
export { BmsLink, defaultAccept, type LinkOptions, type LinkState, type LinkStats, type Priority, type Reply, type RequestOptions } from './link';
export { BmsClient, type CallOptions, type CallResult, type ClientOptions } from './client';
export { detect, detectPort, type BankMode, type Detection, type DetectOptions } from './detect';
export { BankPoller, packPayload, type BankCycle, type PackChargeLimits, type PackIdentity, type PackPayload, type PackReading, type PackStatus, type PollerOptions } from './poller';
export { createTransport, isTcpPort, portKey, type Transport, type TransportOptions } from './transport';
export { BankConnection, type ConnectionOptions, type ConnectionPhase, type ConnectionState } from './connection';
