import {
  ALL_PACKS,
  FrameError,
  IDENTITY_BLOCKS,
  ModbusError,
  READ_HOLDING,
  REALTIME_BLOCK,
  REALTIME_SAFE_BLOCKS,
  decodeModbusAlarms,
  decodeModbusAnalog,
  decodeModbusIdentity,
  decodeModbusParameters,
  decodeReplyPdu,
  encodeModbusGroup,
  MODBUS_PARAMETER_GROUPS,
  PARAMETER_BLOCK,
  WRITE_MULTIPLE,
  textRegisters,
  registersOf,
  replyRegisters,
  type Fields,
  type ModbusRequest,
  type Registers,
} from '../protocol';
import type { CallOptions, DataOf, ParameterClient, PollResult } from './client';
import type { BmsLink, LinkSession } from './link';

/** How long the realtime registers a read brought also answer the alarm read that follows it. */
const SAME_CYCLE_MS = 2000;

const read = (unit: number, start: number, count: number): ModbusRequest => ({
  unit,
  function: READ_HOLDING,
  start,
  count,
});

/**
 * PACE Modbus packs (docs/pace-modbus.md) read by the poller's command names, answered with the
 * canonical payloads the ASCII client gives: `analog`, `alarms`, `version`, `serial`. Each pack is
 * asked at its own address — Modbus has no master reporting the whole bank. One read of registers
 * 0–36 carries a pack's values and its flags: the alarm read right after an analog read is answered
 * from it. A pack that refuses reads touching reserved registers (exception 02) is read in the
 * three blocks without them from then on.
 */
export class ModbusClient implements ParameterClient {
  readonly dialect = 'pace-modbus' as const;
  private readonly split = new Set<number>();
  private readonly realtime = new Map<number, { readonly at: number; readonly regs: Registers }>();

  constructor(
    readonly link: BmsLink,
    readonly session?: LinkSession,
  ) {}

  /** This client's requests with the bus to themselves (see `BmsLink.exclusive`). */
  exclusive<T>(fn: (client: ModbusClient, session: LinkSession) => Promise<T>): Promise<T> {
    if (this.session) return fn(this, this.session);
    return this.link.exclusive((session) => fn(new ModbusClient(this.link, session), session));
  }

  async call<C extends string>(
    command: C,
    params: Fields = {},
    options: CallOptions = {},
  ): Promise<PollResult<DataOf<C>>> {
    if (params.pack === ALL_PACKS)
      throw new FrameError(
        'unsupported',
        'PACE Modbus has no master reporting the whole bank: each pack is read at its own address',
      );
    const unit = options.address ?? (typeof params.pack === 'number' ? params.pack : 1);
    if (command === 'writeIdentity') {
      await this.writeIdentity(unit, params, options);
      return { data: {} as DataOf<C>, alarmsChanged: false };
    }
    const group = parameterGroupOf(command);
    if (group?.direction === 'write') {
      await this.writeGroup(unit, group.group, params, options);
      return { data: {} as DataOf<C>, alarmsChanged: false };
    }
    const data = await this.read(command, unit, options);
    // `read` answers each command with the payload `CommandData` names for it (docs/payloads.md#data).
    return { data: data as DataOf<C>, alarmsChanged: false };
  }

  private async read(command: string, unit: number, options: CallOptions): Promise<object> {
    switch (command) {
      case 'analog': {
        const regs = await this.readRealtime(unit, options);
        return { packs: [decodeModbusAnalog(regs, unit)] };
      }
      case 'alarms': {
        const recent = this.realtime.get(unit);
        this.realtime.delete(unit);
        const regs =
          recent && Date.now() - recent.at <= SAME_CYCLE_MS ? recent.regs : await this.readRealtime(unit, options);
        return { packs: [decodeModbusAlarms(regs, unit)] };
      }
      case 'version': {
        const [version] = IDENTITY_BLOCKS;
        const regs = await this.registers(read(unit, version?.start ?? 150, version?.count ?? 10), options);
        const { firmware } = decodeModbusIdentity(regs);
        return firmware !== undefined ? { version: firmware } : {};
      }
      case 'serial': {
        const regs = await this.registers(read(unit, 160, 20), options);
        const { serial, packSerial } = decodeModbusIdentity(regs);
        return { ...(serial !== undefined ? { bmsSerial: serial } : {}), ...(packSerial ? { packSerial } : {}) };
      }
      case 'readParameters': {
        const regs = await this.registers(read(unit, PARAMETER_BLOCK.start, PARAMETER_BLOCK.count), options);
        return decodeModbusParameters(regs);
      }
      case 'readCapacity': {
        const { remainingAh, fullAh, designAh } = decodeModbusAnalog(await this.readRealtime(unit, options), unit);
        return { remainingAh, fullAh, designAh: designAh ?? fullAh };
      }
      default: {
        const group = parameterGroupOf(command);
        if (group?.direction === 'read') {
          const regs = await this.registers(read(unit, PARAMETER_BLOCK.start, PARAMETER_BLOCK.count), options);
          return decodeModbusParameters(regs)[group.group] ?? {};
        }
        throw new FrameError('unsupported', `PACE Modbus has no command "${command}"`);
      }
    }
  }

  private async readRealtime(unit: number, options: CallOptions): Promise<Registers> {
    let regs: Map<number, number> | undefined;
    if (!this.split.has(unit)) {
      try {
        regs = await this.registers(read(unit, REALTIME_BLOCK.start, REALTIME_BLOCK.count), options);
      } catch (err) {
        if (!(err instanceof ModbusError && err.exception === 0x02)) throw err;
        this.split.add(unit);
      }
    }
    if (!regs) {
      regs = new Map();
      for (const block of REALTIME_SAFE_BLOCKS)
        await this.registers(read(unit, block.start, block.count), options, regs);
    }
    this.realtime.set(unit, { at: Date.now(), regs });
    return regs;
  }

  /**
   * A whole group, one 0x10 write per contiguous run of its registers. The values are checked
   * against the registers before anything is sent; a refusal is the pack's exception, named.
   */
  private async writeGroup(unit: number, group: string, params: Fields, options: CallOptions): Promise<void> {
    const values: Record<string, number | boolean> = {};
    for (const [name, value] of Object.entries(params)) {
      if (typeof value !== 'number' && typeof value !== 'boolean')
        throw new FrameError('range', `${group}.${name} must be a number`);
      values[name] = value;
    }
    let runs;
    try {
      runs = encodeModbusGroup(group, values);
    } catch (err) {
      throw new FrameError('range', err instanceof Error ? err.message : String(err));
    }
    for (const run of runs) {
      const request: ModbusRequest = {
        unit,
        function: WRITE_MULTIPLE,
        start: run.start,
        count: run.values.length,
        values: run.values,
      };
      await this.exchange(request, options);
    }
  }

  /**
   * The BMS serial (registers 160–169) and / or the pack serial (170–179): 1–20 printable ASCII
   * characters each, NUL-padded. Only what is given is written.
   */
  private async writeIdentity(unit: number, params: Fields, options: CallOptions): Promise<void> {
    const blocks: { start: number; text: string }[] = [];
    for (const [name, start] of [
      ['serial', 160],
      ['packSerial', 170],
    ] as const) {
      const value = params[name];
      if (value === undefined) continue;
      if (typeof value !== 'string' || !/^[\x20-\x7e]{1,20}$/.test(value) || value.trim() !== value)
        throw new FrameError('range', `${name} must be 1 to 20 printable ASCII characters without outer spaces`);
      blocks.push({ start, text: value });
    }
    for (const name of Object.keys(params))
      if (name !== 'serial' && name !== 'packSerial') throw new FrameError('range', `unknown field "${name}"`);
    if (!blocks.length) throw new FrameError('range', 'give serial and / or packSerial');
    for (const { start, text } of blocks) {
      const values = textRegisters(text, 10);
      const request: ModbusRequest = { unit, function: WRITE_MULTIPLE, start, count: values.length, values };
      await this.exchange(request, options);
    }
  }

  /**
   * One request on this client's session; the registers read (none for a write). An exception
   * reply becomes a ModbusError naming it. Only reads are given up on when the caller aborts: a
   * write on the wire is seen through.
   */
  private async exchange(
    request: ModbusRequest,
    options: CallOptions,
    sync?: readonly ModbusRequest[],
  ): Promise<readonly number[]> {
    const reply = await this.link.requestModbus(request, {
      ...(sync ? { sync } : {}),
      ...(this.session ? { session: this.session } : {}),
      ...(options.signal && request.function === READ_HOLDING ? { signal: options.signal } : {}),
      ...(options.priority ? { priority: options.priority } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.retries !== undefined ? { retries: options.retries } : {}),
    });
    return replyRegisters(request, decodeReplyPdu(request, reply.frame.pdu));
  }

  /** One read; an exception reply becomes a ModbusError naming it. */
  private async registers(
    request: ModbusRequest,
    options: CallOptions,
    into = new Map<number, number>(),
  ): Promise<Map<number, number>> {
    const registers = await this.exchange(request, options, [
      // A read of another length: its reply cannot be taken for this one's (see BmsLink.syncBefore).
      request.count === 4 ? read(request.unit, 150, 10) : read(request.unit, 9, 4),
    ]);
    return registersOf(request.start, registers, into);
  }
}

/** `readCellOverVoltage` / `writeCellOverVoltage`: a parameter group this map has, and which way. */
function parameterGroupOf(command: string): { group: string; direction: 'read' | 'write' } | undefined {
  const match = /^(read|write)([A-Z]\w*)$/.exec(command);
  if (!match) return undefined;
  const group = `${(match[2] ?? '').charAt(0).toLowerCase()}${(match[2] ?? '').slice(1)}`;
  return MODBUS_PARAMETER_GROUPS.some((g) => g.group === group)
    ? { group, direction: match[1] === 'read' ? 'read' : 'write' }
    : undefined;
}
