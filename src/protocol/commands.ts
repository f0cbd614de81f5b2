import { decodeAlarms, encodeAlarms } from './alarms';
import { decodeAnalog, encodeAnalog } from './analog';
import { formatClock, parseClock } from './clock';
import {
  EMPTY,
  bit,
  boolField,
  constantRequest,
  dottedVersion,
  fieldsCodec,
  intField,
  layoutCodec,
  parseDottedVersion,
  rejectUnknown,
  textField,
  trimText,
  type CodecContext,
  type Fields,
  type InfoCodec,
} from './codec';
import { ALL_PACKS, DIALECTS, DIALECT_PROFILES, commandKind, type CommandKind, type Dialect } from './dialect';
import { FrameError } from './errors';
import { CLOCK_STEPS, HISTORY_RECORD } from './history';
import { num, text } from './layout';
import { PARAMETER_GROUPS, parameterCommand } from './parameters';
import { Q, fromSi, toSi } from './units';

/** One command of one or more dialects: both directions of request and response. */
export interface CommandSpec {
  readonly name: string;
  readonly cid2: number;
  readonly dialects: readonly Dialect[];
  readonly kind: CommandKind;
  readonly request: InfoCodec;
  readonly response: InfoCodec;
  /** The request names a pack (`{ pack }`), which is also the default header ADR. */
  readonly packAddressed?: boolean;
  readonly summary: string;
  /**
   * What its replies look like on the wire (see `InfoCodec.shape`): replies of two commands whose
   * shapes share an entry can be taken for each other, so the link keeps them apart by timing.
   */
  readonly replyShape: readonly string[];
}

const PACE: readonly Dialect[] = ['pace'];
const PYLONTECH: readonly Dialect[] = ['pylontech'];

function isBroadcast(ctx: CodecContext): boolean {
  return ctx.request.pack === ALL_PACKS;
}

/** `{ pack }` in INFO for most dialects; EG4 requests carry no INFO and select the pack by ADR. */
const PACK_REQUEST: InfoCodec = {
  decode(info, ctx) {
    if (ctx.dialect === 'eg4') return { pack: ctx.address };
    if (info.length !== 1)
      throw new FrameError('layout', `request INFO of ${info.length} bytes, expected the pack byte`);
    return { pack: info[0] };
  },
  encode(value, ctx) {
    rejectUnknown(value, ['pack']);
    const pack = intField(value.pack, 'pack');
    if (pack < 0 || pack > 0xff) throw new FrameError('range', 'pack must be 0..255 (255 = all packs)');
    return ctx.dialect === 'eg4' ? new Uint8Array(0) : Uint8Array.of(pack);
  },
};

/** Shape check for `{ packs: [...] }` data handed to the encoder from untyped JSON. */
function packList(value: Fields, arrays: readonly string[]): { packs: never[] } {
  const packs = value.packs;
  if (!Array.isArray(packs)) throw new FrameError('range', 'packs must be a list');
  packs.forEach((pack: unknown, i) => {
    if (typeof pack !== 'object' || pack === null) throw new FrameError('range', `packs[${i}] must be an object`);
    for (const name of arrays) {
      if (!Array.isArray((pack as Fields)[name])) throw new FrameError('range', `packs[${i}].${name} must be a list`);
    }
  });
  return value as { packs: never[] };
}

/**
 * A one-pack reply names the pack it is about (docs/protocol.md#addresses-and-the-whole-bank: the echoed COMMAND byte); one about
 * another pack (a late answer to an earlier request) does not fit, however well it decodes.
 */
function checkEchoedPack(data: { packs: readonly { pack: number }[] }, ctx: CodecContext): void {
  if (isBroadcast(ctx) || !DIALECT_PROFILES[ctx.dialect].echoesPack || typeof ctx.request.pack !== 'number') return;
  const echoed = data.packs[0]?.pack;
  if (echoed !== ctx.request.pack) {
    throw new FrameError('layout', `the reply is about pack ${String(echoed)}, not pack ${ctx.request.pack}`);
  }
}

const ANALOG: InfoCodec = {
  shape: ['analog'],
  decode: (info, ctx) => {
    const data = decodeAnalog(info, ctx.dialect, isBroadcast(ctx));
    checkEchoedPack(data, ctx);
    return data as unknown as Fields;
  },
  encode: (value, ctx) =>
    encodeAnalog(packList(value, ['cellVoltages', 'temperatures']), ctx.dialect, isBroadcast(ctx), ctx.options ?? {}),
};

const ALARMS: InfoCodec = {
  shape: ['alarms'],
  decode: (info, ctx) => {
    const data = decodeAlarms(info, ctx.dialect, isBroadcast(ctx));
    checkEchoedPack(data, ctx);
    return data as unknown as Fields;
  },
  encode: (value, ctx) =>
    encodeAlarms(
      packList(value, ['balancingCells', 'alarms', 'protections', 'faults']),
      ctx.dialect,
      isBroadcast(ctx),
      ctx.options ?? {},
    ),
};

/** The pack byte Pylontech echoes at the start of per-module replies. */
const echoedPack = (ctx: CodecContext): number =>
  typeof ctx.request.pack === 'number' ? ctx.request.pack : ctx.address;

const CLOCK = layoutCodec(
  CLOCK_STEPS,
  (raw) => ({ time: formatClock(raw) }),
  (value) => {
    rejectUnknown(value, ['time']);
    return parseClock(textField(value.time, 'time'));
  },
);

/** Seplos / EG4 0x4D / 0x4E: the same local time with the year as a whole 2-byte number. */
const FULL_YEAR_CLOCK = layoutCodec(
  [{ name: 'fullYear', type: 'u16' }, ...CLOCK_STEPS.slice(1)],
  (raw) => ({ time: formatClock({ ...raw, year: num(raw, 'fullYear') - 2000 }) }),
  (value) => {
    rejectUnknown(value, ['time']);
    const raw = parseClock(textField(value.time, 'time'));
    return { ...raw, fullYear: num(raw, 'year') + 2000 };
  },
);

/** 0xC1 / 0xC2: 20 ASCII characters, newer boards append 20 more. */
function twoStrings(first: string, second: string, secondAlways: boolean): InfoCodec {
  return layoutCodec(
    [{ name: 'a', ascii: 20 }, { optional: [{ name: 'b', ascii: 20 }] }],
    (raw) => {
      const out: Fields = { [first]: trimText(text(raw, 'a')) };
      if (raw.b !== undefined || secondAlways) out[second] = trimText(text(raw, 'b'));
      return out;
    },
    (value) => {
      rejectUnknown(value, [first, second]);
      const b = value[second];
      return {
        a: textField(value[first], first),
        b: b === undefined && !secondAlways ? undefined : textField(b ?? '', second),
      };
    },
  );
}

function manufacturerInfo(nameWidth: number): InfoCodec {
  return layoutCodec(
    [
      { name: 'deviceName', ascii: nameWidth },
      { name: 'major', type: 'u8' },
      { name: 'minor', type: 'u8' },
      { name: 'manufacturer', ascii: 20 },
      { rest: 'unknown' },
    ],
    (raw) => ({
      deviceName: trimText(text(raw, 'deviceName')),
      softwareVersion: dottedVersion([num(raw, 'major'), num(raw, 'minor')]),
      manufacturer: trimText(text(raw, 'manufacturer'), ' \0-'),
    }),
    (value) => {
      rejectUnknown(value, ['deviceName', 'softwareVersion', 'manufacturer']);
      const [major, minor] = parseDottedVersion(value.softwareVersion, 2, 'softwareVersion');
      return {
        deviceName: textField(value.deviceName, 'deviceName'),
        major,
        minor,
        manufacturer: textField(value.manufacturer, 'manufacturer'),
      };
    },
  );
}

const SWITCH_CONTROL = layoutCodec(
  [
    { name: 'code', type: 'u8' },
    { name: 'controlState', type: 'u8' },
  ],
  (raw) => {
    const state = num(raw, 'controlState');
    // Only the bits both specs and captures agree on get names (docs/pitfalls.md#p-17).
    return {
      code: num(raw, 'code'),
      controlState: state,
      buzzerEnabled: bit(state, 0),
      currentLimitLowGear: bit(state, 3),
    };
  },
  (value) => {
    rejectUnknown(value, ['code', 'controlState', 'buzzerEnabled', 'currentLimitLowGear']);
    return { code: intField(value.code, 'code'), controlState: intField(value.controlState, 'controlState') };
  },
);

const INSTRUCTION_STATE = layoutCodec(
  [{ name: 'instructionState', type: 'u8' }],
  (raw) => {
    const state = num(raw, 'instructionState');
    return { instructionState: state, chargeMos: bit(state, 1), dischargeMos: bit(state, 2) };
  },
  (value) => {
    rejectUnknown(value, ['instructionState', 'chargeMos', 'dischargeMos']);
    return { instructionState: intField(value.instructionState, 'instructionState') };
  },
);

/** 0x9A / 0x9B: 00 switches the MOSFET on, 01 off. */
const MOS_REQUEST = layoutCodec(
  [{ name: 'off', type: 'u8' }],
  (raw) => {
    const off = num(raw, 'off');
    if (off > 1) throw new FrameError('layout', `MOSFET command byte ${off} is neither 00 (on) nor 01 (off)`);
    return { on: off === 0 };
  },
  (value) => {
    rejectUnknown(value, ['on']);
    return { off: 1 - boolField(value.on, 'on') };
  },
);

const INVERTER_PROTOCOL = fieldsCodec([
  { name: 'canProtocol', type: 'u8' },
  { name: 'rs485Protocol', type: 'u8' },
  { name: 'manual', type: 'u8', bool: true },
]);

/** 0xB7 / 0xB8: minutes between history records (0–120), in seconds. */
const STORAGE_INTERVAL = fieldsCodec([{ name: 'interval', type: 'u8', q: Q.minute }]);

const CAPACITY = fieldsCodec([
  { name: 'remainingAh', type: 'u16', q: Q.tenMah },
  { name: 'fullAh', type: 'u16', q: Q.tenMah },
  { name: 'designAh', type: 'u16', q: Q.tenMah },
]);

const CHARGE_LIMIT_FLAGS = ['chargeEnabled', 'dischargeEnabled', 'forceCharge1', 'forceCharge2', 'fullChargeRequest'];

/** Pylontech 0x92: limits in mV and 100 mA; status b7..b3 are the flags above in order. */
const CHARGE_LIMITS = layoutCodec(
  [
    { name: 'pack', type: 'u8' },
    { name: 'chargeVoltage', type: 'u16' },
    { name: 'dischargeVoltage', type: 'u16' },
    { name: 'chargeCurrent', type: 's16' },
    { name: 'dischargeCurrent', type: 's16' },
    { name: 'status', type: 'u8' },
  ],
  (raw) => {
    const status = num(raw, 'status');
    const out: Fields = {
      chargeVoltage: toSi(Q.mV, num(raw, 'chargeVoltage')),
      dischargeVoltage: toSi(Q.mV, num(raw, 'dischargeVoltage')),
      chargeCurrent: toSi(Q.hundredMa, num(raw, 'chargeCurrent')),
      dischargeCurrent: toSi(Q.hundredMa, num(raw, 'dischargeCurrent')),
    };
    CHARGE_LIMIT_FLAGS.forEach((name, i) => (out[name] = bit(status, 7 - i)));
    return out;
  },
  (value, ctx) => {
    rejectUnknown(value, [
      'chargeVoltage',
      'dischargeVoltage',
      'chargeCurrent',
      'dischargeCurrent',
      ...CHARGE_LIMIT_FLAGS,
    ]);
    return {
      pack: echoedPack(ctx),
      chargeVoltage: fromSi(Q.mV, value.chargeVoltage, 'chargeVoltage'),
      dischargeVoltage: fromSi(Q.mV, value.dischargeVoltage, 'dischargeVoltage'),
      chargeCurrent: fromSi(Q.hundredMa, value.chargeCurrent, 'chargeCurrent'),
      dischargeCurrent: fromSi(Q.hundredMa, value.dischargeCurrent, 'dischargeCurrent'),
      status: CHARGE_LIMIT_FLAGS.reduce((acc, name, i) => acc | (boolField(value[name] ?? false, name) << (7 - i)), 0),
    };
  },
);

const PYLONTECH_SYSTEM_PARAMETERS = fieldsCodec([
  { name: 'infoFlag', type: 'u8', hidden: () => 0 },
  { name: 'cellHighVoltage', type: 'u16', q: Q.mV },
  { name: 'cellLowVoltage', type: 'u16', q: Q.mV },
  { name: 'cellUnderVoltage', type: 'u16', q: Q.mV },
  { name: 'chargeHighTemperature', type: 'u16', q: Q.deciKelvin },
  { name: 'chargeLowTemperature', type: 'u16', q: Q.deciKelvin },
  // 100 mA units, not 10 mA (docs/pitfalls.md#p-09).
  { name: 'chargeCurrentLimit', type: 's16', q: Q.hundredMa },
  { name: 'moduleHighVoltage', type: 'u16', q: Q.mV },
  { name: 'moduleLowVoltage', type: 'u16', q: Q.mV },
  { name: 'moduleUnderVoltage', type: 'u16', q: Q.mV },
  { name: 'dischargeHighTemperature', type: 'u16', q: Q.deciKelvin },
  { name: 'dischargeLowTemperature', type: 'u16', q: Q.deciKelvin },
  { name: 'dischargeCurrentLimit', type: 's16', q: Q.hundredMa },
]);

/** Seplos answers 0x47 with its own long vendor table, which is not decoded. */
const OPAQUE: InfoCodec = { shape: ['seplosParameters'], decode: () => ({}), encode: () => new Uint8Array(0) };

const PROTOCOL_VERSION: InfoCodec = {
  shape: ['bytes:0'],
  decode: (info, ctx) => {
    if (info.length > 0) throw new FrameError('layout', `${info.length} byte(s) where an empty reply was expected`);
    return { protocolVersion: ctx.version };
  },
  encode: () => new Uint8Array(0),
};

const PYLONTECH_SERIAL = layoutCodec(
  [
    { name: 'pack', type: 'u8' },
    { name: 'serial', ascii: 16 },
  ],
  (raw) => ({ serial: trimText(text(raw, 'serial')) }),
  (value, ctx) => {
    rejectUnknown(value, ['serial']);
    return { pack: echoedPack(ctx), serial: textField(value.serial, 'serial') };
  },
);

/** 0x96: echoed pack, manufacturer version (2 bytes), main-line version (3 bytes). */
const PYLONTECH_VERSION = layoutCodec(
  [
    { name: 'pack', type: 'u8' },
    { name: 'm1', type: 'u8' },
    { name: 'm2', type: 'u8' },
    { name: 'l1', type: 'u8' },
    { name: 'l2', type: 'u8' },
    { name: 'l3', type: 'u8' },
  ],
  (raw) => ({
    manufacturerVersion: dottedVersion([num(raw, 'm1'), num(raw, 'm2')]),
    mainlineVersion: dottedVersion([num(raw, 'l1'), num(raw, 'l2'), num(raw, 'l3')]),
  }),
  (value, ctx) => {
    rejectUnknown(value, ['manufacturerVersion', 'mainlineVersion']);
    const [m1, m2] = parseDottedVersion(value.manufacturerVersion, 2, 'manufacturerVersion');
    const [l1, l2, l3] = parseDottedVersion(value.mainlineVersion, 3, 'mainlineVersion');
    return { pack: echoedPack(ctx), m1, m2, l1, l2, l3 };
  },
);

function parameterCommands(): CommandSpec[] {
  return PARAMETER_GROUPS.flatMap(({ group, read, write, fields }) => {
    return [
      spec(
        parameterCommand(group, 'read'),
        read,
        PACE,
        EMPTY,
        fieldsCodec(fields, 'read'),
        `read the ${group} parameters`,
      ),
      spec(
        parameterCommand(group, 'write'),
        write,
        PACE,
        fieldsCodec(fields, 'write'),
        EMPTY,
        `write the ${group} parameters (the whole group)`,
      ),
    ];
  });
}

function spec(
  name: string,
  cid2: number,
  dialects: readonly Dialect[],
  request: InfoCodec,
  response: InfoCodec,
  summary: string,
  packAddressed = false,
): CommandSpec {
  return {
    name,
    cid2,
    dialects,
    kind: commandKind(cid2),
    request,
    response,
    summary,
    packAddressed,
    replyShape: response.shape ?? [name],
  };
}

/** Every command the codec speaks, both directions. */
export const COMMANDS: readonly CommandSpec[] = [
  spec(
    'analog',
    0x42,
    DIALECTS,
    PACK_REQUEST,
    ANALOG,
    'cell voltages, temperatures, current, voltage, capacity (pack N or all)',
    true,
  ),
  spec(
    'alarms',
    0x44,
    DIALECTS,
    PACK_REQUEST,
    ALARMS,
    'alarm, protection and fault state, MOSFETs, balancing (pack N or all)',
    true,
  ),
  spec(
    'packCount',
    0x90,
    PACE,
    EMPTY,
    fieldsCodec([{ name: 'packCount', type: 'u8' }]),
    'number of packs the master sees',
  ),
  spec(
    'switchControl',
    0x99,
    PACE,
    fieldsCodec([{ name: 'code', type: 'u8' }]),
    SWITCH_CONTROL,
    'buzzer, LED, current limiter and gear switches (0x99 code)',
  ),
  spec('chargeMos', 0x9a, PACE, MOS_REQUEST, INSTRUCTION_STATE, 'switch the charge MOSFET on or off'),
  spec('dischargeMos', 0x9b, PACE, MOS_REQUEST, INSTRUCTION_STATE, 'switch the discharge MOSFET on or off'),
  spec('shutdown', 0x9c, PACE, constantRequest(0x01), EMPTY, 'put the BMS to sleep'),
  spec(
    'history',
    0xa1,
    PACE,
    fieldsCodec([{ name: 'index', type: 'u16' }]),
    HISTORY_RECORD,
    'one history record (0 = newest)',
  ),
  spec('restoreDefaults', 0xa4, PACE, EMPTY, EMPTY, 'restore the default protection parameters'),
  spec('readCapacity', 0xa6, PACE, EMPTY, CAPACITY, 'remaining, full and design capacity'),
  spec('writeCapacity', 0xa7, PACE, CAPACITY, EMPTY, 'set remaining, full and design capacity'),
  spec('readClock', 0xb1, PACE, EMPTY, CLOCK, 'BMS date and time'),
  spec('writeClock', 0xb2, PACE, CLOCK, EMPTY, 'set the BMS date and time'),
  spec('clearHistory', 0xb3, PACE, EMPTY, EMPTY, 'erase the history log'),
  spec('writeStorageInterval', 0xb7, PACE, STORAGE_INTERVAL, EMPTY, 'set the history storage interval'),
  spec('readStorageInterval', 0xb8, PACE, EMPTY, STORAGE_INTERVAL, 'history storage interval'),
  spec('version', 0xc1, PACE, EMPTY, twoStrings('version', 'bluetoothName', false), 'hardware / software version'),
  spec('serial', 0xc2, PACE, EMPTY, twoStrings('bmsSerial', 'packSerial', true), 'BMS and pack serial numbers'),
  spec('readInverterProtocol', 0xeb, PACE, EMPTY, INVERTER_PROTOCOL, 'CAN and RS485 inverter protocol codes'),
  spec('writeInverterProtocol', 0xec, PACE, INVERTER_PROTOCOL, EMPTY, 'set the CAN and RS485 inverter protocol codes'),
  ...parameterCommands(),
  spec('readClock', 0x4d, ['seplos', 'eg4'], EMPTY, FULL_YEAR_CLOCK, 'BMS date and time'),
  spec('writeClock', 0x4e, ['seplos', 'eg4'], FULL_YEAR_CLOCK, EMPTY, 'set the BMS date and time'),
  spec('systemParameters', 0x47, PYLONTECH, EMPTY, PYLONTECH_SYSTEM_PARAMETERS, 'module limits (Pylontech 0x47)'),
  spec('systemParameters', 0x47, ['seplos'], EMPTY, OPAQUE, 'vendor parameter table (not decoded)'),
  spec(
    'protocolVersion',
    0x4f,
    ['pylontech', 'seplos'],
    EMPTY,
    PROTOCOL_VERSION,
    'protocol version (the reply VER byte)',
  ),
  spec(
    'manufacturer',
    0x51,
    ['pylontech', 'seplos'],
    EMPTY,
    manufacturerInfo(10),
    'device name, software version, manufacturer',
  ),
  spec('manufacturer', 0x51, ['eg4'], EMPTY, manufacturerInfo(20), 'device name, software version, manufacturer'),
  spec(
    'chargeLimits',
    0x92,
    PYLONTECH,
    PACK_REQUEST,
    CHARGE_LIMITS,
    'charge / discharge voltage and current limits',
    true,
  ),
  spec('serial', 0x93, PYLONTECH, PACK_REQUEST, PYLONTECH_SERIAL, 'module serial number', true),
  spec('version', 0x96, PYLONTECH, PACK_REQUEST, PYLONTECH_VERSION, 'firmware versions', true),
];

const byDialect = new Map<Dialect, Map<string | number, CommandSpec>>(DIALECTS.map((d) => [d, new Map()]));
for (const spec of COMMANDS) {
  for (const dialect of spec.dialects) {
    byDialect.get(dialect)?.set(spec.cid2, spec).set(spec.name, spec);
  }
}

export function findCommand(dialect: Dialect, nameOrCid2: string | number): CommandSpec | undefined {
  return byDialect.get(dialect)?.get(nameOrCid2);
}

export function commandNames(dialect: Dialect): string[] {
  return COMMANDS.filter((c) => c.dialects.includes(dialect)).map((c) => c.name);
}
