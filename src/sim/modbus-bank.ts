import {
  IDENTITY_BLOCKS,
  MODBUS_PARAMETER_GROUPS,
  ModbusError,
  PARAMETER_BLOCK,
  READ_HOLDING,
  WRITE_MULTIPLE,
  bytesHex,
  decodeModbusParameters,
  decodeRequestPdu,
  encodeMbap,
  encodeReadReplyPdu,
  encodeModbusGroup,
  encodeModbusRealtime,
  encodeRtu,
  registerText,
  registersOf,
  textRegisters,
  type ModbusRequest,
} from '../protocol';
import type { SimExchange, SimResponder, SimulatedBank } from './bank';

/** How requests and replies are framed on the simulated wire. */
export type ModbusFraming = 'rtu' | 'mbap';

/** Registers V1.3 defines (docs/pace-modbus.md#register-map); reading or writing outside them is exception 02. */
const READABLE: readonly (readonly [number, number])[] = [
  [0, 36],
  [60, 114],
  [150, 179],
];

/**
 * A bank whose packs speak PACE Modbus on their RS485 inverter ports, joined on one bus: each pack
 * answers only its own DIP address (1..N) and only for itself — there is no master relaying its
 * slaves. Values come from the same simulated packs as the ASCII bank (`bank`), so the two
 * protocols report the same battery. Reserved registers raise exception 02 when `strictReserved`
 * (some firmware does); a sleeping, absent or offline pack is silent, as a real one is.
 */
export class ModbusBank implements SimResponder {
  readonly framing: ModbusFraming;
  /** Requests answered, by pack (address) — the tests' view of who was asked what. */
  readonly asked: { unit: number; function: number; start: number; count: number }[] = [];
  /** The registers each pack last sent, by address: what a read should decode to. */
  readonly lastRegisters = new Map<number, Map<number, number>>();
  private readonly strictReserved: boolean;
  /** Pack serials written over Modbus (until then: derived from the BMS serial). */
  private readonly packSerials = new Map<number, string>();

  constructor(
    readonly bank: SimulatedBank,
    options: { readonly framing?: ModbusFraming; readonly strictReserved?: boolean } = {},
  ) {
    this.framing = options.framing ?? 'rtu';
    this.strictReserved = options.strictReserved ?? false;
  }

  /** Answer one request frame, given as hex (as the simulated wire hands it over); the reply as latin1 bytes. */
  handle(text: string): SimExchange {
    this.bank.advance();
    const bytes = Uint8Array.from(text.split(' ').map((b) => parseInt(b, 16)));
    const mbap = this.framing === 'mbap';
    const unit = bytes[mbap ? 6 : 0] ?? 0;
    const pdu = mbap ? bytes.subarray(7) : bytes.subarray(1, bytes.length - 2);
    let request: ModbusRequest;
    try {
      request = decodeRequestPdu(unit, pdu);
    } catch (err) {
      if (!(err instanceof ModbusError)) throw err;
      // An unknown function is refused by the pack it is addressed to, as V1.3 says (exception 01).
      return this.present(unit)
        ? this.reply(bytes, unit, Uint8Array.of((pdu[0] ?? 0) | 0x80, 0x01))
        : { silentBecause: err.message };
    }
    if (!this.present(unit)) return { silentBecause: `no pack answers address ${String(unit)}` };
    if (this.bank.asleep.has(unit)) return { silentBecause: `pack ${String(unit)} is asleep` };
    if (this.bank.offline.has(unit)) return { silentBecause: `pack ${String(unit)} is offline` };
    this.asked.push({ unit, function: request.function, start: request.start, count: request.count });
    const end = request.start + request.count - 1;
    if (!this.defined(request.start, end)) return this.reply(bytes, unit, Uint8Array.of(request.function | 0x80, 0x02));
    if (request.function === READ_HOLDING) {
      const regs = this.registers(unit);
      this.lastRegisters.set(unit, regs);
      const values = Array.from({ length: request.count }, (_, i) => regs.get(request.start + i) ?? 0);
      return this.reply(bytes, unit, encodeReadReplyPdu(values));
    }
    const written = this.write(unit, request);
    if (!written) return this.reply(bytes, unit, Uint8Array.of(WRITE_MULTIPLE | 0x80, 0x03));
    return this.reply(
      bytes,
      unit,
      Uint8Array.of(WRITE_MULTIPLE, request.start >> 8, request.start & 0xff, 0, request.count),
    );
  }

  private present(unit: number): boolean {
    return unit >= 1 && unit <= this.bank.packs.length && !this.bank.absent.has(unit);
  }

  private defined(start: number, end: number): boolean {
    if (this.strictReserved) {
      const reserved = (r: number): boolean => r === 8 || r === 13 || r === 14;
      for (let r = start; r <= end; r++) if (reserved(r)) return false;
    }
    return READABLE.some(([from, to]) => start >= from && end <= to);
  }

  /** Every register of pack `unit` now. */
  registers(unit: number): Map<number, number> {
    const pack = this.bank.pack(unit);
    const analog = { ...pack.analog('pace'), pack: unit };
    const alarms = { ...pack.alarms('pace'), pack: unit };
    const regs = registersOf(0, encodeModbusRealtime(analog, alarms));
    for (const { group } of MODBUS_PARAMETER_GROUPS) {
      const stored = pack.parameters[group] ?? {};
      const values: Record<string, number> = {};
      for (const [name, value] of Object.entries(stored))
        if (typeof value === 'number') values[name] = group === 'dischargeOverCurrent1' ? Math.abs(value) : value;
      const fields = MODBUS_PARAMETER_GROUPS.find((g) => g.group === group)?.fields ?? [];
      const picked = Object.fromEntries(fields.map((f) => [f.name, values[f.name] ?? 0]));
      for (const run of encodeModbusGroup(group, picked)) registersOf(run.start, run.values, regs);
    }
    for (let r = PARAMETER_BLOCK.start; r < PARAMETER_BLOCK.start + PARAMETER_BLOCK.count; r++)
      if (!regs.has(r)) regs.set(r, 0);
    const [version, model, packSerial] = IDENTITY_BLOCKS;
    if (version) registersOf(version.start, textRegisters(pack.firmware, version.count), regs);
    if (model) registersOf(model.start, textRegisters(pack.serial, model.count), regs);
    if (packSerial)
      registersOf(
        packSerial.start,
        textRegisters(this.packSerials.get(unit) ?? `PACK-${pack.serial}`, packSerial.count),
        regs,
      );
    return regs;
  }

  /** A parameter or serial write: whole groups / strings it touches are stored, as the pack would; false when refused. */
  private write(unit: number, request: ModbusRequest): boolean {
    const end = request.start + request.count - 1;
    if (request.start >= 160 && end <= 179) {
      const regs = this.registers(unit);
      registersOf(request.start, request.values ?? [], regs);
      const text = (start: number): string =>
        registerText(Array.from({ length: 10 }, (_, i) => regs.get(start + i) ?? 0));
      const pack = this.bank.pack(unit);
      if (request.start < 170) pack.serial = text(160);
      if (end >= 170) this.packSerials.set(unit, text(170));
      return true;
    }
    if (request.start < PARAMETER_BLOCK.start || end >= PARAMETER_BLOCK.start + PARAMETER_BLOCK.count) return false;
    const pack = this.bank.pack(unit);
    const regs = this.registers(unit);
    registersOf(request.start, request.values ?? [], regs);
    const decoded = decodeModbusParameters(regs);
    for (const { group, fields } of MODBUS_PARAMETER_GROUPS) {
      if (!fields.some((f) => f.reg >= request.start && f.reg <= end)) continue;
      const values = decoded[group];
      if (!values || pack.refusedWrites.has(group)) return false;
      // A pack that acknowledges but keeps its old values (seen with locked parameters).
      if (!pack.ignoredWrites.has(group)) pack.writeParameters(group, { ...pack.parameters[group], ...values });
    }
    return true;
  }

  private reply(request: Uint8Array, unit: number, pdu: Uint8Array): SimExchange {
    const frame =
      this.framing === 'mbap'
        ? encodeMbap(((request[0] ?? 0) << 8) | (request[1] ?? 0), unit, pdu)
        : encodeRtu(unit, pdu);
    return { reply: Buffer.from(frame).toString('latin1') };
  }
}

/** Hex of bytes as the simulated wire hands a Modbus request to its responder. */
export const requestText = bytesHex;
