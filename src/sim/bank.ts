import {
  ALL_PACKS,
  DIALECT_PROFILES,
  FrameError,
  PARAMETER_GROUPS,
  decodeRequest,
  encodeErrorResponse,
  encodeFrame,
  encodeResponse,
  formatLocalTime,
  parseFrame,
  type DecodedRequest,
  type Dialect,
  type Fields,
  type PackAlarms,
  type PackAnalog,
} from '../protocol';
import { defaultParameters } from './defaults';
import { SimPack } from './pack';
import { Random } from './random';
import { round } from '../round';

export type SimDialect = Extract<Dialect, 'pace' | 'pylontech'>;

export interface SimBankOptions {
  readonly packs?: number;
  readonly dialect?: SimDialect;
  readonly seed?: number;
  /** Total bank current asked by the charger (+) or load (−), split over the packs that can take it. */
  readonly current?: number;
  readonly historyRecords?: number;
  /** The clock physics and the BMS clocks run on (tests pass fake time). */
  readonly now?: () => number;
  /** Bytes after the 0x42 cycle counter, as real PACE firmware sends them: 2, 3 (default), 12, 16 or 24. */
  readonly analogTailBytes?: PaceTailBytes;
  /** Bytes per pack in a PACE 0x44 reply: 36, 37 (default) or 41 (V3.1). */
  readonly alarmBlockBytes?: 36 | 37 | 41;
  readonly quirks?: FirmwareQuirks;
}

export type PaceTailBytes = 2 | 3 | 12 | 16 | 24;

/** Ways real firmware answers that a client must cope with (docs/pitfalls.md#p-20, docs/pitfalls.md#p-23, docs/pitfalls.md#p-29). */
export interface FirmwareQuirks {
  /** Every reply comes from this header address, whatever was asked (a bumped DIP switch). */
  readonly responderAddress?: number;
  /** The VER byte the packs claim in replies (e.g. 0x26 while speaking 0x25). */
  readonly version?: number;
  /** 0x42 tail bytes when a pack is asked directly, where they differ from the master's "all packs" blocks. */
  readonly relayTailBytes?: PaceTailBytes;
}

/** PACE tail bytes → the number of tail fields that make them up. */
const TAIL_FIELDS: Readonly<Record<PaceTailBytes, number>> = { 2: 1, 3: 2, 12: 5, 16: 7, 24: 9 };

/** What one request did; `reply` is undefined when the bank stays silent. */
export interface SimExchange {
  readonly request?: DecodedRequest;
  readonly reply?: string;
  readonly silentBecause?: string;
}

/** What answers requests on a simulated wire: a simulated bank, or a capture replayed. */
export interface SimResponder {
  /** How requests arrive and replies leave: ASCII frames (the default), Modbus RTU or Modbus-TCP (MBAP). */
  readonly framing?: 'ascii' | 'rtu' | 'mbap';
  handle(text: string): SimExchange;
}

interface TruthEntry {
  readonly analog: Omit<PackAnalog, 'pack'>;
  readonly alarms: Omit<PackAlarms, 'pack'>;
}

/**
 * A bank of 1–15 simulated packs behind one master (pack 1), speaking PACE 0x25 or Pylontech 0x20
 * through the codec's server direction. It answers "all packs" requests for the whole bank and
 * requests at a pack's own address for that pack, keeps every value it ever sent (its ground
 * truth) and can be told to lose packs or let them sleep.
 */
export class SimulatedBank {
  readonly dialect: SimDialect;
  readonly packs: readonly SimPack[];
  /** Requests received, in order (tests assert that nothing was written). */
  readonly received: DecodedRequest[] = [];
  readonly offline = new Set<number>();
  readonly asleep = new Set<number>();
  /** Packs switched off altogether: no slot in the master's replies, no answer. */
  readonly absent = new Set<number>();
  private readonly woken = new Set<number>();
  private readonly truth = new Map<number, TruthEntry[]>();
  private readonly alarmTruth = new Map<number, Omit<PackAlarms, 'pack'>[]>();
  private readonly now: () => number;
  private readonly analogTailBytes: PaceTailBytes;
  private readonly alarmBlockBytes: number;
  private readonly quirks: FirmwareQuirks;

  constructor(options: SimBankOptions = {}) {
    const count = options.packs ?? 3;
    if (!Number.isInteger(count) || count < 1 || count > 15) throw new RangeError('a simulated bank has 1 to 15 packs');
    this.dialect = options.dialect ?? 'pace';
    this.now = options.now ?? Date.now;
    this.analogTailBytes = options.analogTailBytes ?? 3;
    this.alarmBlockBytes = options.alarmBlockBytes ?? 37;
    this.quirks = options.quirks ?? {};
    const random = new Random(options.seed ?? 1);
    const now = this.now();
    this.packs = Array.from(
      { length: count },
      (_, i) =>
        new SimPack({
          address: i + 1,
          random,
          now,
          historyRecords: options.historyRecords ?? 50,
        }),
    );
    this.setCurrent(options.current ?? 0);
  }

  /** Header ADR of pack n: PACE packs sit at their DIP address, Pylontech starts at 2. */
  addressOf(pack: number): number {
    return this.dialect === 'pylontech' ? pack + 1 : pack;
  }

  pack(n: number): SimPack {
    const pack = this.packs[n - 1];
    if (!pack) throw new RangeError(`no pack ${n} in a bank of ${this.packs.length}`);
    return pack;
  }

  setCurrent(amps: number): void {
    this.advance();
    const share = amps / this.packs.length;
    for (const pack of this.packs) pack.setDemand(share);
  }

  setOffline(pack: number, offline: boolean): void {
    if (offline) this.offline.add(pack);
    else this.offline.delete(pack);
  }

  /** Switch a pack off (gone from the bank) or on: a pack switched on mid-run joins the master's replies. */
  setPresent(pack: number, present: boolean): void {
    this.pack(pack);
    if (present) this.absent.delete(pack);
    else this.absent.add(pack);
  }

  /** A sleeping pack ignores requests; the first request addressed to it wakes it for the next one. */
  setAsleep(pack: number, asleep: boolean): void {
    if (asleep) {
      this.asleep.add(pack);
      this.woken.delete(pack);
    } else this.asleep.delete(pack);
  }

  /** Every analog / alarm state the bank sent for a pack, oldest first (bounded). */
  truthFor(pack: number): readonly TruthEntry[] {
    return this.truth.get(pack) ?? [];
  }

  /** Every alarm / status state the bank sent for a pack in a 0x44 reply, oldest first (bounded). */
  alarmsSentFor(pack: number): readonly Omit<PackAlarms, 'pack'>[] {
    return this.alarmTruth.get(pack) ?? [];
  }

  advance(): void {
    const now = this.now();
    for (const pack of this.packs) pack.advance(now);
  }

  /** Answer one request frame (text without CR) the way the bank on the bus would. */
  handle(text: string): SimExchange {
    this.advance();
    let frame;
    try {
      frame = parseFrame(text);
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      // A damaged request is answered with RTN 02 by the addressed pack, if its header is readable.
      return { silentBecause: `damaged request: ${err.message}` };
    }
    const profile = DIALECT_PROFILES[this.dialect];
    if (frame.cid1 !== profile.cid1) return { silentBecause: `CID1 ${frame.cid1.toString(16)} is not ours` };
    const target = this.target(frame.address);
    if (target === undefined || this.absent.has(target))
      return { silentBecause: `no pack at address ${frame.address}` };
    let request: DecodedRequest;
    try {
      request = decodeRequest(text, this.dialect);
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      const rtn = err.kind === 'unsupported' ? 0x04 : 0x05;
      return { reply: encodeErrorResponse(rtn, { dialect: this.dialect, address: this.addressOf(target) }) };
    }
    this.received.push(request);
    const sleeper = this.sleeping(target, request);
    if (sleeper) return { request, silentBecause: sleeper };
    if (this.offline.has(target) && !this.wholeBank(request, target))
      return { request, silentBecause: `pack ${target} is offline` };
    const reply = this.withQuirks(this.answer(request, target));
    return { request, reply };
  }

  /** The header as the firmware quirks have it (a claimed version, a fixed responder address). */
  private withQuirks(reply: string): string {
    const { responderAddress, version } = this.quirks;
    if (responderAddress === undefined && version === undefined) return reply;
    const frame = parseFrame(reply);
    return encodeFrame({
      ...frame,
      ...(version !== undefined ? { version } : {}),
      ...(responderAddress !== undefined ? { address: responderAddress } : {}),
    });
  }

  private sleeping(target: number, request: DecodedRequest): string | undefined {
    const master = 1;
    const who = this.broadcastRequest(request) ? master : target;
    if (!this.asleep.has(who)) return undefined;
    if (this.woken.has(who)) {
      this.asleep.delete(who);
      this.woken.delete(who);
      return undefined;
    }
    this.woken.add(who);
    return `pack ${who} is asleep (woken by this request)`;
  }

  private target(address: number): number | undefined {
    if (address === 0x00 || address === 0xff) return 1;
    const pack = this.dialect === 'pylontech' ? address - 1 : address;
    return pack >= 1 && pack <= this.packs.length ? pack : undefined;
  }

  private broadcastRequest(request: DecodedRequest): boolean {
    return (request.command === 'analog' || request.command === 'alarms') && request.params.pack === ALL_PACKS;
  }

  /** "All packs" asked of the master: a slave asked the same answers only for itself (docs/protocol.md#addresses-and-the-whole-bank). */
  private wholeBank(request: DecodedRequest, target: number): boolean {
    return this.broadcastRequest(request) && target === 1;
  }

  /**
   * The packs a 0x42 / 0x44 reply covers: the master reports slots 1..M up to the highest pack
   * present (one switched off below that keeps an empty slot); a pack switched on beyond M grows M.
   */
  private packsFor(request: DecodedRequest, target: number): number[] {
    if (!this.wholeBank(request, target)) return [target];
    const present = this.packs.map((_, i) => i + 1).filter((n) => !this.absent.has(n));
    return Array.from({ length: Math.max(0, ...present) }, (_, i) => i + 1);
  }

  private answer(request: DecodedRequest, target: number): string {
    const dialect = this.dialect;
    const address = this.addressOf(target);
    const reply = (command: string, data: Fields, options?: Fields): string =>
      encodeResponse(command, data, { dialect, address, request: request.params, ...(options ? { options } : {}) });
    const refuse = (): string => encodeErrorResponse(0x09, { dialect, address });
    const pack = this.pack(target);
    switch (request.command) {
      case 'analog': {
        const tail = !this.wholeBank(request, target)
          ? (this.quirks.relayTailBytes ?? this.analogTailBytes)
          : this.analogTailBytes;
        const packs = this.packsFor(request, target).map((n) => this.analogOf(n, request, TAIL_FIELDS[tail]));
        return reply('analog', { packs }, { paceTailFields: TAIL_FIELDS[tail], infoFlag: 0 });
      }
      case 'alarms': {
        const numbers = this.packsFor(request, target);
        const packs = numbers.map((n) => ({ pack: this.reportedPack(n, request), ...this.alarmsOf(n) }));
        return reply(
          'alarms',
          { packs },
          {
            cellCount: 16,
            tempCount: 6,
            raw: { control: pack.controlState },
            ...(dialect === 'pace' ? { optionalFields: this.alarmBlockBytes - 36 } : {}),
          },
        );
      }
      case 'packCount': {
        const present = this.packs.filter((_, i) => !this.absent.has(i + 1) && !this.offline.has(i + 1)).length;
        return reply('packCount', { packCount: target === 1 ? present : 1 });
      }
      case 'switchControl': {
        const code = Number(request.params.code);
        if (!pack.switchControl(code)) return encodeErrorResponse(0x06, { dialect, address });
        return reply('switchControl', { code, controlState: pack.controlState });
      }
      case 'chargeMos':
      case 'dischargeMos': {
        const result = pack.switchMos(
          request.command === 'chargeMos' ? 'charge' : 'discharge',
          request.params.on === true,
        );
        return result === 'refused' ? refuse() : reply(request.command, { instructionState: pack.instructionState() });
      }
      case 'shutdown':
      case 'restoreDefaults':
      case 'clearHistory':
        if (request.command === 'restoreDefaults') Object.assign(pack.parameters, defaultParameters());
        if (request.command === 'clearHistory') pack.history.length = 0;
        return reply(request.command, {});
      case 'history': {
        const record = pack.history[Number(request.params.index)];
        return reply('history', record ?? {});
      }
      case 'readStorageInterval':
        return reply('readStorageInterval', { interval: pack.storageIntervalMin * 60 });
      case 'writeStorageInterval':
        pack.storageIntervalMin = Number(request.params.interval) / 60;
        return reply('writeStorageInterval', {});
      case 'readCapacity':
        return reply('readCapacity', {
          remainingAh: round(pack.remainingAh, 2),
          fullAh: round(pack.fullAh, 2),
          designAh: pack.designAh,
        });
      case 'writeCapacity': {
        pack.fullAh = Number(request.params.fullAh);
        pack.remainingAh = Math.min(pack.fullAh, Number(request.params.remainingAh));
        return reply('writeCapacity', {});
      }
      case 'readClock':
        return reply('readClock', { time: formatLocalTime(new Date(this.now() + pack.clockOffsetMs)) });
      case 'writeClock': {
        const time = String(request.params.time);
        pack.clockOffsetMs = new Date(time).getTime() - this.now();
        return reply('writeClock', {});
      }
      case 'version':
        if (dialect === 'pylontech') return reply('version', { manufacturerVersion: '1.3', mainlineVersion: '0.6.9' });
        return reply('version', { version: pack.firmware });
      case 'serial':
        if (dialect === 'pylontech') return reply('serial', { serial: pack.serial.padEnd(16, '0').slice(0, 16) });
        return reply('serial', { bmsSerial: pack.serial, packSerial: '' });
      case 'readInverterProtocol':
        return reply('readInverterProtocol', pack.inverterProtocol);
      case 'writeInverterProtocol':
        pack.inverterProtocol = request.params;
        return reply('writeInverterProtocol', {});
      case 'manufacturer':
        return reply('manufacturer', { deviceName: 'US3000SIM', softwareVersion: '1.3', manufacturer: 'Pylon' });
      case 'protocolVersion':
        return reply('protocolVersion', { protocolVersion: DIALECT_PROFILES[dialect].version });
      case 'chargeLimits': {
        const cells = pack.cellVoltages().length;
        return reply('chargeLimits', {
          chargeVoltage: 3.55 * cells,
          dischargeVoltage: 2.9 * cells,
          chargeCurrent: pack.chargeAllowed() ? 37 : 0,
          dischargeCurrent: pack.dischargeAllowed() ? -37 : 0,
          chargeEnabled: pack.chargeAllowed(),
          dischargeEnabled: pack.dischargeAllowed(),
          forceCharge1: false,
          forceCharge2: false,
          fullChargeRequest: false,
        });
      }
      case 'systemParameters': {
        const p = pack.parameters;
        const v = (g: string, f: string): number => Number(p[g]?.[f]);
        return reply('systemParameters', {
          cellHighVoltage: v('cellOverVoltage', 'alarm'),
          cellLowVoltage: v('cellUnderVoltage', 'alarm'),
          cellUnderVoltage: v('cellUnderVoltage', 'protect'),
          chargeHighTemperature: v('cellHighTemperature', 'chargeProtect'),
          chargeLowTemperature: v('cellLowTemperature', 'chargeProtect'),
          chargeCurrentLimit: v('chargeOverCurrent', 'alarm'),
          moduleHighVoltage: v('packOverVoltage', 'alarm'),
          moduleLowVoltage: v('packUnderVoltage', 'alarm'),
          moduleUnderVoltage: v('packUnderVoltage', 'protect'),
          dischargeHighTemperature: v('cellHighTemperature', 'dischargeProtect'),
          dischargeLowTemperature: v('cellLowTemperature', 'dischargeProtect'),
          dischargeCurrentLimit: v('dischargeOverCurrent1', 'alarm'),
        });
      }
      default: {
        const group = PARAMETER_GROUPS.find((g) => request.cid2 === g.read || request.cid2 === g.write);
        if (!group) return encodeErrorResponse(0x04, { dialect, address });
        if (request.cid2 === group.write) {
          // Faults a test can inject: a firmware that refuses a group, or acknowledges it and keeps the old values.
          if (pack.refusedWrites.has(group.group)) return refuse();
          if (!pack.ignoredWrites.has(group.group)) pack.writeParameters(group.group, request.params);
          return reply(request.command, {});
        }
        return reply(request.command, pack.parameters[group.group] ?? {});
      }
    }
  }

  /** Pack n's status as sent, recorded as ground truth. */
  private alarmsOf(n: number): Omit<PackAlarms, 'pack'> {
    const alarms = this.pack(n).alarms(this.dialect);
    const log = this.alarmTruth.get(n) ?? [];
    log.push(alarms);
    if (log.length > 5000) log.splice(0, log.length - 5000);
    this.alarmTruth.set(n, log);
    return alarms;
  }

  /** A slot for pack n as the master reports it, recorded as ground truth when online. */
  private analogOf(n: number, request: DecodedRequest, tailFields: number): PackAnalog {
    const pack = this.pack(n);
    const analog = pack.analog(this.dialect, tailFields);
    const number = this.reportedPack(n, request);
    if (this.offline.has(n) || this.absent.has(n) || (this.asleep.has(n) && n !== 1))
      return { ...analog, pack: number, online: false };
    const alarms = pack.alarms(this.dialect);
    const log = this.truth.get(n) ?? [];
    log.push({ analog, alarms });
    if (log.length > 5000) log.splice(0, log.length - 5000);
    this.truth.set(n, log);
    return { ...analog, pack: number };
  }

  /** "All packs" replies number packs 1..M; single replies echo the COMMAND byte asked for. */
  private reportedPack(n: number, request: DecodedRequest): number {
    if (this.broadcastRequest(request)) return n;
    const asked = request.params.pack;
    return typeof asked === 'number' ? asked : this.addressOf(n);
  }
}
