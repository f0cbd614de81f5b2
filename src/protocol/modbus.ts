/**
 * Modbus framing for packs that speak PACE Modbus (docs/pace-modbus.md#link-layer): RTU frames
 * (address, function, data, CRC-16/MODBUS low byte first) on a serial bus or a transparent gateway,
 * and MBAP-framed PDUs for Modbus-TCP gateways. Only what the PACE map needs: function 0x03 (read
 * holding registers) and 0x10 (write multiple registers), and exception replies. Pure: the link owns
 * timing, one request in flight and resynchronisation; this turns bytes into frames and back.
 */

export const READ_HOLDING = 0x03;
export const WRITE_MULTIPLE = 0x10;
/** Most registers one request may read / write (Modbus application protocol, 6.3 and 6.12). */
export const MAX_READ_REGISTERS = 125;
export const MAX_WRITE_REGISTERS = 123;

/** Why a Modbus reply cannot be used: `exception` is the pack saying no, the rest transport damage or a mismatch. */
export type ModbusErrorKind = 'exception' | 'crc' | 'length' | 'mismatch' | 'range';

/** Exception codes (Modbus application protocol, 7). PACE V1.3 uses 01–03. */
const EXCEPTION_NAMES: Readonly<Record<number, string>> = {
  0x01: 'illegal function',
  0x02: 'illegal data address',
  0x03: 'illegal data value',
  0x04: 'server device failure',
  0x05: 'acknowledge',
  0x06: 'server device busy',
  0x08: 'memory parity error',
  0x0a: 'gateway path unavailable',
  0x0b: 'gateway target device failed to respond',
};

export function exceptionName(code: number): string {
  return EXCEPTION_NAMES[code] ?? 'unknown exception';
}

export class ModbusError extends Error {
  override readonly name = 'ModbusError';
  constructor(
    readonly kind: ModbusErrorKind,
    message: string,
    /** The exception code, for `kind === 'exception'`. */
    readonly exception?: number,
  ) {
    super(message);
  }
}

/** CRC-16/MODBUS: init 0xFFFF, reflected polynomial 0xA001. */
const CRC_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    table[n] = c;
  }
  return table;
})();

export function crc16Modbus(bytes: Uint8Array, end = bytes.length): number {
  let crc = 0xffff;
  for (let i = 0; i < end; i++) crc = (crc >>> 8) ^ (CRC_TABLE[(crc ^ (bytes[i] as number)) & 0xff] as number);
  return crc;
}

/** A request as the link and the decoders know it: who is asked, what, which registers. */
export interface ModbusRequest {
  readonly unit: number;
  readonly function: typeof READ_HOLDING | typeof WRITE_MULTIPLE;
  readonly start: number;
  readonly count: number;
  /** Values written (0x10), one per register. */
  readonly values?: readonly number[];
}

function checkRequest(request: ModbusRequest): void {
  const { unit, start, count } = request;
  if (!Number.isInteger(unit) || unit < 1 || unit > 247)
    throw new ModbusError('range', `Modbus address ${String(unit)} is not 1..247`);
  const max = request.function === READ_HOLDING ? MAX_READ_REGISTERS : MAX_WRITE_REGISTERS;
  if (!Number.isInteger(count) || count < 1 || count > max)
    throw new ModbusError('range', `register count ${String(count)} is not 1..${String(max)}`);
  if (!Number.isInteger(start) || start < 0 || start + count > 0x10000)
    throw new ModbusError('range', `registers ${String(start)}..${String(start + count - 1)} are outside 0..65535`);
  if (request.function === WRITE_MULTIPLE) {
    const values = request.values ?? [];
    if (values.length !== count) throw new ModbusError('range', `${String(count)} registers need as many values`);
    for (const v of values)
      if (!Number.isInteger(v) || v < 0 || v > 0xffff)
        throw new ModbusError('range', `register value ${String(v)} is not 0..65535`);
  }
}

/** The PDU (function code and data) of a request. */
export function encodePdu(request: ModbusRequest): Uint8Array {
  checkRequest(request);
  const { start, count } = request;
  if (request.function === READ_HOLDING)
    return Uint8Array.of(READ_HOLDING, start >> 8, start & 0xff, count >> 8, count & 0xff);
  const pdu = new Uint8Array(6 + 2 * count);
  pdu.set([WRITE_MULTIPLE, start >> 8, start & 0xff, count >> 8, count & 0xff, 2 * count]);
  (request.values ?? []).forEach((v, i) => {
    pdu[6 + 2 * i] = v >> 8;
    pdu[7 + 2 * i] = v & 0xff;
  });
  return pdu;
}

/** The PDU of a successful read reply carrying `registers` (the simulator's side). */
export function encodeReadReplyPdu(registers: readonly number[]): Uint8Array {
  const pdu = new Uint8Array(2 + 2 * registers.length);
  pdu[0] = READ_HOLDING;
  pdu[1] = 2 * registers.length;
  registers.forEach((v, i) => {
    pdu[2 + 2 * i] = (v >> 8) & 0xff;
    pdu[3 + 2 * i] = v & 0xff;
  });
  return pdu;
}

/** An RTU frame: address, PDU, CRC low byte first. */
export function encodeRtu(unit: number, pdu: Uint8Array): Uint8Array {
  const frame = new Uint8Array(pdu.length + 3);
  frame[0] = unit;
  frame.set(pdu, 1);
  const crc = crc16Modbus(frame, pdu.length + 1);
  frame[pdu.length + 1] = crc & 0xff;
  frame[pdu.length + 2] = crc >> 8;
  return frame;
}

export function encodeRtuRequest(request: ModbusRequest): Uint8Array {
  return encodeRtu(request.unit, encodePdu(request));
}

/** An MBAP-framed PDU for Modbus-TCP: transaction, protocol 0, length, unit. */
export function encodeMbap(transaction: number, unit: number, pdu: Uint8Array): Uint8Array {
  const frame = new Uint8Array(7 + pdu.length);
  frame.set([transaction >> 8, transaction & 0xff, 0, 0, (pdu.length + 1) >> 8, (pdu.length + 1) & 0xff, unit]);
  frame.set(pdu, 7);
  return frame;
}

/** The request an RTU frame carries (the simulator's side; the diagnosis reads requests too). */
export function decodeRtuRequest(frame: Uint8Array): ModbusRequest {
  if (frame.length < 8) throw new ModbusError('length', `a request of ${String(frame.length)} bytes is too short`);
  const crc = crc16Modbus(frame, frame.length - 2);
  if ((frame[frame.length - 2] as number) !== (crc & 0xff) || (frame[frame.length - 1] as number) !== crc >> 8)
    throw new ModbusError('crc', 'request CRC does not match');
  return decodeRequestPdu(frame[0] as number, frame.subarray(1, frame.length - 2));
}

export function decodeRequestPdu(unit: number, pdu: Uint8Array): ModbusRequest {
  const fn = pdu[0] as number;
  const start = ((pdu[1] ?? 0) << 8) | (pdu[2] ?? 0);
  const count = ((pdu[3] ?? 0) << 8) | (pdu[4] ?? 0);
  if (fn === READ_HOLDING && pdu.length === 5) return { unit, function: READ_HOLDING, start, count };
  if (fn === WRITE_MULTIPLE && pdu.length >= 6 && pdu[5] === 2 * count && pdu.length === 6 + 2 * count) {
    const values = Array.from(
      { length: count },
      (_, i) => ((pdu[6 + 2 * i] as number) << 8) | (pdu[7 + 2 * i] as number),
    );
    return { unit, function: WRITE_MULTIPLE, start, count, values };
  }
  throw new ModbusError(
    'mismatch',
    `function ${hexByte(fn)} with ${String(pdu.length)} bytes is no request this map knows`,
  );
}

/** What a reply says: registers read, registers written, or the exception. */
export type ModbusReply =
  | { readonly kind: 'read'; readonly registers: readonly number[] }
  | { readonly kind: 'written'; readonly start: number; readonly count: number }
  | { readonly kind: 'exception'; readonly code: number };

/**
 * A reply PDU checked against its request: the function, the byte count (2 × registers asked,
 * docs/pace-modbus.md#pitfalls), the registers written. Throws a ModbusError when it is not the answer.
 */
export function decodeReplyPdu(request: ModbusRequest, pdu: Uint8Array): ModbusReply {
  const fn = pdu[0] ?? -1;
  if (fn === (request.function | 0x80)) {
    if (pdu.length !== 2) throw new ModbusError('length', `exception reply of ${String(pdu.length)} bytes`);
    return { kind: 'exception', code: pdu[1] as number };
  }
  if (fn !== request.function)
    throw new ModbusError('mismatch', `reply function ${hexByte(fn)} to a ${hexByte(request.function)} request`);
  if (fn === READ_HOLDING) {
    const bytes = pdu[1] ?? 0;
    if (bytes !== 2 * request.count || pdu.length !== 2 + bytes)
      throw new ModbusError(
        'length',
        `reply carries ${String(bytes)} data bytes for ${String(request.count)} registers (expected ${String(2 * request.count)})`,
      );
    const registers = Array.from(
      { length: request.count },
      (_, i) => ((pdu[2 + 2 * i] as number) << 8) | (pdu[3 + 2 * i] as number),
    );
    return { kind: 'read', registers };
  }
  const start = ((pdu[1] ?? 0) << 8) | (pdu[2] ?? 0);
  const count = ((pdu[3] ?? 0) << 8) | (pdu[4] ?? 0);
  if (pdu.length !== 5 || start !== request.start || count !== request.count)
    throw new ModbusError(
      'mismatch',
      `write confirmed for registers ${String(start)}+${String(count)}, not ${String(request.start)}+${String(request.count)}`,
    );
  return { kind: 'written', start, count };
}

/** The reply's registers, or the exception as a typed error naming it. */
export function replyRegisters(request: ModbusRequest, reply: ModbusReply): readonly number[] {
  if (reply.kind === 'exception')
    throw new ModbusError(
      'exception',
      `Modbus exception ${hexByte(reply.code)} (${exceptionName(reply.code)}) from address ${String(request.unit)} for registers ${String(request.start)}..${String(request.start + request.count - 1)}`,
      reply.code,
    );
  return reply.kind === 'read' ? reply.registers : [];
}

/** Bytes of the RTU reply to `request` when it succeeds (the stream framer waits for that many). */
export function rtuReplyLength(request: ModbusRequest): number {
  return request.function === READ_HOLDING ? 5 + 2 * request.count : 8;
}

export function hexByte(value: number): string {
  return `0x${value.toString(16).toUpperCase().padStart(2, '0')}`;
}

export function bytesHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += (out ? ' ' : '') + b.toString(16).toUpperCase().padStart(2, '0');
  return out;
}
