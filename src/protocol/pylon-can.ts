import { FrameError } from './errors';

/**
 * Pylontech low-voltage CAN, battery → inverter (docs/inverter.md): CAN 2.0A, 11-bit ids, 500 kbit/s,
 * multi-byte fields little-endian (RS485 fields are big-endian: docs/pitfalls.md#p-33). The battery
 * sends its frame set about once a second; the inverter answers with 0x305.
 */

/** A classic CAN frame: 11-bit id (29-bit when `extended`), 0–8 data bytes. */
export interface CanFrame {
  readonly id: number;
  readonly data: Uint8Array;
  readonly extended?: boolean;
}

/** Conditions the inverter is told about, each as a protection (the BMS acts) or a warning. */
export interface PylonConditions {
  /** Cell or module over-voltage. */
  readonly highVoltage: boolean;
  readonly lowVoltage: boolean;
  readonly highTemperature: boolean;
  readonly lowTemperature: boolean;
  readonly dischargeOverCurrent: boolean;
  readonly chargeOverCurrent: boolean;
  /** Protection: BMS system error. Warning: internal communication failure (a pack not answering). */
  readonly systemError: boolean;
  readonly cellImbalance: boolean;
}

export const NO_CONDITIONS: PylonConditions = {
  highVoltage: false,
  lowVoltage: false,
  highTemperature: false,
  lowTemperature: false,
  dischargeOverCurrent: false,
  chargeOverCurrent: false,
  systemError: false,
  cellImbalance: false,
};

/** What the battery announces, in SI units; the encoder scales, rounds and clamps to each field. */
export interface PylonValues {
  /** Charge voltage limit (CVL), V. */
  readonly chargeVoltage: number;
  /** Charge current limit (CCL), A, ≥ 0. */
  readonly chargeCurrent: number;
  /** Discharge current limit (DCL), A, ≥ 0: sent positive (docs/pitfalls.md#p-34). */
  readonly dischargeCurrent: number;
  /** Discharge voltage limit (DVL), V. */
  readonly dischargeVoltage: number;
  /** %. */
  readonly soc: number;
  readonly soh: number;
  /** Bank voltage, V. */
  readonly voltage: number;
  /** Bank current, A, + = charge. */
  readonly current: number;
  /** Mean cell temperature, °C. */
  readonly temperature: number;
  readonly cellVoltageMin: number;
  readonly cellVoltageMax: number;
  readonly temperatureMin: number;
  readonly temperatureMax: number;
  /** Where the extremes are, e.g. `P03C12` (pack 3, cell 12): up to 8 ASCII characters. */
  readonly cellVoltageMinId: string;
  readonly cellVoltageMaxId: string;
  readonly temperatureMinId: string;
  readonly temperatureMaxId: string;
  /** Packs counted (online and fresh). */
  readonly modules: number;
  readonly modulesBlockingCharge: number;
  readonly modulesBlockingDischarge: number;
  readonly modulesOffline: number;
  /** Installed (full) capacity of the counted packs, Ah. */
  readonly capacityAh: number;
  readonly cycles: number;
  readonly chargeEnable: boolean;
  readonly dischargeEnable: boolean;
  /** Force charge I: the battery may shut down, the inverter should wake and charge it. */
  readonly forceCharge1: boolean;
  /** Force charge II: charge before shutdown. */
  readonly forceCharge2: boolean;
  readonly fullChargeRequest: boolean;
  readonly protection: PylonConditions;
  readonly warning: PylonConditions;
  /** 0x35E, up to 8 ASCII characters (padded with spaces). */
  readonly manufacturer: string;
  /** 0x382 product id, up to 8 ASCII characters. */
  readonly product: string;
  /** Firmware version for 0x35F: major.minor. */
  readonly firmware: { readonly major: number; readonly minor: number };
}

/** Every frame this encoder can build. */
export type PylonFrameId =
  | 0x351
  | 0x355
  | 0x356
  | 0x359
  | 0x35a
  | 0x35b
  | 0x35c
  | 0x35e
  | 0x35f
  | 0x372
  | 0x373
  | 0x374
  | 0x375
  | 0x376
  | 0x377
  | 0x379
  | 0x382;

/** How one family fills the frames whose layout differs between inverter makers. */
export interface PylonLayout {
  /** 0x351 bytes 6–7: the discharge voltage limit, or left 0 (Pylon V1.2 leaves them empty). */
  readonly dischargeVoltage: boolean;
  /** 0x355 bytes 4–7: nothing (DLC 4), SOC at 0.01 % (SMA, DLC 6), max / min cell mV (LuxPower, DLC 8). */
  readonly socTail: 'none' | 'fine-soc' | 'cell-range';
  /** 0x356 voltage: 0.01 V (Pylontech) or 0.1 V (Sol-Ark: docs/pitfalls.md#p-37). */
  readonly voltageScale: 0.01 | 0.1;
  /** 0x356 bytes 4–7: mean temperature (DLC 6) or max / min temperature (LuxPower, DLC 8). */
  readonly temperatureTail: 'mean' | 'range';
  /** 0x359 bytes 5–6: `P` `N`, or the capacity in Ah (LuxPower). */
  readonly moduleTail: 'PN' | 'capacity';
  /** 0x35C: one flag byte and a zero (DLC 2), or flags, zero and the cycle count (LuxPower, DLC 4). */
  readonly requestTail: 'none' | 'cycles';
  /** 0x35F: SMA (type, BMS version, capacity, manufacturer id) or Victron (type, version MSB first, capacity, hardware id). */
  readonly identity: 'sma' | 'victron';
}

/** A frame set an inverter family understands: a row, not code (docs/inverter.md#families). */
export interface PylonFamily {
  readonly id: string;
  readonly label: string;
  /** Inverters and their settings known to take this set. */
  readonly inverters: string;
  /** In the order they go out. */
  readonly frames: readonly PylonFrameId[];
  readonly layout: PylonLayout;
  /** Frame ids the inverter sends that show it is there (its keep-alive); empty: it sends none. */
  readonly keepAlive: readonly number[];
  /** How often the set goes out, ms. */
  readonly periodMs: number;
  /** 0x35E when the user sets none: what these inverters look for. */
  readonly defaultName: string;
  /** Manufacturer names this family's inverters must not be sent (0x35E), with why. */
  readonly forbiddenNames?: { readonly pattern: RegExp; readonly why: string };
}

const PYLON_V12: PylonLayout = {
  dischargeVoltage: false,
  socTail: 'none',
  voltageScale: 0.01,
  temperatureTail: 'mean',
  moduleTail: 'PN',
  requestTail: 'none',
  identity: 'sma',
};

const CORE: readonly PylonFrameId[] = [0x351, 0x355, 0x356, 0x359, 0x35c, 0x35e];
const EXTENDED: readonly PylonFrameId[] = [0x35a, 0x372, 0x373, 0x374, 0x375, 0x376, 0x377, 0x379];

export const PYLON_FAMILIES: readonly PylonFamily[] = [
  {
    id: 'pylon',
    label: 'Pylontech V1.2',
    inverters: 'Deye / Sunsynk "Lithium 00", Sofar "Automatic", Growatt SPF "CAN L52", MidNite, EG4 6000XP "Lithium 2"',
    frames: CORE,
    layout: PYLON_V12,
    keepAlive: [0x305],
    periodMs: 1000,
    defaultName: 'PYLON',
  },
  {
    id: 'pylon-v2',
    label: 'Pylontech V1.3 (extended)',
    inverters: 'Solis "Pylon LV", GoodWe "LX U5.4-L", SRNE (PYLON V2 set)',
    frames: [...CORE, ...EXTENDED],
    layout: PYLON_V12,
    keepAlive: [0x305],
    periodMs: 1000,
    defaultName: 'PYLON',
  },
  {
    id: 'luxpower',
    label: 'LuxPower',
    inverters: 'LuxPower / EG4 "Lithium 6"',
    frames: CORE,
    layout: {
      ...PYLON_V12,
      dischargeVoltage: true,
      socTail: 'cell-range',
      temperatureTail: 'range',
      moduleTail: 'capacity',
      requestTail: 'cycles',
    },
    keepAlive: [0x305],
    periodMs: 1000,
    defaultName: 'PYLON',
  },
  {
    id: 'solark',
    label: 'Sol-Ark',
    inverters: 'Sol-Ark (battery type "SOLARK")',
    frames: [...CORE, 0x379],
    layout: { ...PYLON_V12, dischargeVoltage: true, voltageScale: 0.1 },
    keepAlive: [0x305],
    periodMs: 1000,
    defaultName: 'PYLON',
  },
  {
    id: 'sma',
    label: 'SMA Sunny Island',
    inverters: 'SMA Sunny Island (lithium, external BMS)',
    frames: [0x351, 0x355, 0x356, 0x35a, 0x35b, 0x35e, 0x35f],
    layout: { ...PYLON_V12, dischargeVoltage: true, socTail: 'fine-soc' },
    keepAlive: [0x305],
    periodMs: 1000,
    defaultName: 'LFP-BMS',
  },
  {
    id: 'victron',
    label: 'Victron GX (CAN-bus BMS LV)',
    inverters: 'Victron GX "CAN-bus BMS LV 500 kbit/s" (bms-venus is the better way onto a GX)',
    frames: [0x351, 0x355, 0x356, 0x35a, 0x35e, 0x35f, 0x372, 0x373, 0x374, 0x375, 0x376, 0x377, 0x379, 0x382],
    layout: { ...PYLON_V12, dischargeVoltage: true, identity: 'victron' },
    keepAlive: [0x305, 0x306, 0x307],
    periodMs: 1000,
    defaultName: 'LFP-BMS',
    forbiddenNames: {
      pattern: /^\s*(PYLON|DYNESS|BYD|LG|PELIO)/i,
      why: 'a Victron GX picks a battery type by this name and then overrides its limits (PYLON: CVL capped at 52.8 V, CCL 0 read as capacity/4)',
    },
  },
];

export function pylonFamily(id: string): PylonFamily | undefined {
  return PYLON_FAMILIES.find((f) => f.id === id);
}

/** Why a manufacturer name cannot go to this family's inverters, or null. */
export function manufacturerProblem(family: PylonFamily, name: string): string | null {
  if (!/^[\x20-\x7e]{1,8}$/.test(name)) return 'the manufacturer name must be 1 to 8 printable ASCII characters';
  if (family.forbiddenNames?.pattern.test(name))
    return `"${name}" is not sent to a ${family.label}: ${family.forbiddenNames.why}`;
  return null;
}

class FrameWriter {
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(length: number) {
    this.bytes = new Uint8Array(length);
    this.view = new DataView(this.bytes.buffer);
  }

  /** `value / scale` rounded and clamped into an unsigned 16-bit field, little-endian. */
  u16(at: number, value: number, scale: number, what: string): this {
    this.view.setUint16(at, clamp(Math.round(finite(value, what) / scale), 0, 0xffff), true);
    return this;
  }

  s16(at: number, value: number, scale: number, what: string): this {
    this.view.setInt16(at, clamp(Math.round(finite(value, what) / scale), -0x8000, 0x7fff), true);
    return this;
  }

  u8(at: number, value: number): this {
    this.bytes[at] = clamp(Math.round(value), 0, 0xff);
    return this;
  }

  ascii(at: number, text: string, length: number, pad: number): this {
    for (let i = 0; i < length; i++) {
      const code = text.charCodeAt(i);
      this.bytes[at + i] = i < text.length && code >= 0x20 && code <= 0x7e ? code : pad;
    }
    return this;
  }
}

function finite(value: number, what: string): number {
  if (!Number.isFinite(value)) throw new FrameError('range', `${what} is not a number (${String(value)})`);
  return value;
}

const clamp = (value: number, min: number, max: number): number => Math.min(max, Math.max(min, value));

const KELVIN = 273.15;

/** 0x374–0x377: where the lowest and highest cell and temperature are. */
const EXTREME_IDS = {
  0x374: 'cellVoltageMinId',
  0x375: 'cellVoltageMaxId',
  0x376: 'temperatureMinId',
  0x377: 'temperatureMaxId',
} as const;

/** 0x359 bytes 0–3 (table in docs/inverter.md#0x359). */
function conditionBytes(protection: PylonConditions, warning: PylonConditions): [number, number, number, number] {
  const low = (c: PylonConditions): number =>
    (c.highVoltage ? 0x02 : 0) |
    (c.lowVoltage ? 0x04 : 0) |
    (c.highTemperature ? 0x08 : 0) |
    (c.lowTemperature ? 0x10 : 0) |
    (c.dischargeOverCurrent ? 0x80 : 0);
  const high = (c: PylonConditions): number => (c.chargeOverCurrent ? 0x01 : 0) | (c.systemError ? 0x08 : 0);
  return [low(protection), high(protection), low(warning), high(warning)];
}

/**
 * 0x35A: four bytes of alarms, four of warnings, two bits per condition from bit 0: `01` raised,
 * `10` cleared (every field a sender knows is cleared when healthy, as BYD sends `AA`).
 */
function conditionPairs(c: PylonConditions): [number, number, number, number] {
  const f = (raised: boolean, slot: number): number => (raised ? 0b01 : 0b10) << (slot * 2);
  return [
    f(c.systemError || c.highVoltage || c.lowVoltage || c.highTemperature || c.lowTemperature, 0) |
      f(c.highVoltage, 1) |
      f(c.lowVoltage, 2) |
      f(c.highTemperature, 3),
    f(c.lowTemperature, 0) | f(c.highTemperature, 1) | f(c.lowTemperature, 2) | f(c.dischargeOverCurrent, 3),
    f(c.chargeOverCurrent, 0) | f(false, 1) | f(false, 2) | f(c.systemError, 3),
    f(c.cellImbalance, 0) | f(false, 1) | f(false, 2) | f(false, 3),
  ];
}

function requestByte(v: PylonValues): number {
  return (
    (v.chargeEnable ? 0x80 : 0) |
    (v.dischargeEnable ? 0x40 : 0) |
    (v.forceCharge1 ? 0x20 : 0) |
    (v.forceCharge2 ? 0x10 : 0) |
    (v.fullChargeRequest ? 0x08 : 0)
  );
}

/** One frame of the set, laid out for `layout`. */
export function encodePylonFrame(id: PylonFrameId, v: PylonValues, layout: PylonLayout): CanFrame {
  switch (id) {
    case 0x351: {
      const w = new FrameWriter(8)
        .u16(0, v.chargeVoltage, 0.1, 'charge voltage limit')
        .s16(2, Math.max(0, v.chargeCurrent), 0.1, 'charge current limit')
        .s16(4, Math.max(0, v.dischargeCurrent), 0.1, 'discharge current limit');
      if (layout.dischargeVoltage) w.u16(6, v.dischargeVoltage, 0.1, 'discharge voltage limit');
      return { id, data: w.bytes };
    }
    case 0x355: {
      const length = layout.socTail === 'none' ? 4 : layout.socTail === 'fine-soc' ? 6 : 8;
      const w = new FrameWriter(length).u16(0, v.soc, 1, 'SOC').u16(2, v.soh, 1, 'SOH');
      if (layout.socTail === 'fine-soc') w.u16(4, v.soc, 0.01, 'SOC');
      if (layout.socTail === 'cell-range')
        w.u16(4, v.cellVoltageMax, 0.001, 'highest cell voltage').u16(
          6,
          v.cellVoltageMin,
          0.001,
          'lowest cell voltage',
        );
      return { id, data: w.bytes };
    }
    case 0x356: {
      const w = new FrameWriter(layout.temperatureTail === 'mean' ? 6 : 8)
        .s16(0, v.voltage, layout.voltageScale, 'voltage')
        .s16(2, v.current, 0.1, 'current');
      if (layout.temperatureTail === 'mean') w.s16(4, v.temperature, 0.1, 'temperature');
      else w.s16(4, v.temperatureMax, 0.1, 'highest temperature').s16(6, v.temperatureMin, 0.1, 'lowest temperature');
      return { id, data: w.bytes };
    }
    case 0x359: {
      const w = new FrameWriter(7);
      conditionBytes(v.protection, v.warning).forEach((b, i) => w.u8(i, b));
      w.u8(4, v.modules);
      if (layout.moduleTail === 'PN') w.ascii(5, 'PN', 2, 0);
      else w.u16(5, v.capacityAh, 1, 'capacity');
      return { id, data: w.bytes };
    }
    case 0x35a: {
      const w = new FrameWriter(8);
      [...conditionPairs(v.protection), ...conditionPairs(v.warning)].forEach((b, i) => w.u8(i, b));
      return { id, data: w.bytes };
    }
    case 0x35b:
      // Events: bit 4 of byte 0 asks for a preventive shutdown, which this bank never does.
      return { id, data: new Uint8Array(8) };
    case 0x35c: {
      const w = new FrameWriter(layout.requestTail === 'cycles' ? 4 : 2).u8(0, requestByte(v));
      if (layout.requestTail === 'cycles') w.u16(2, v.cycles, 1, 'cycles');
      return { id, data: w.bytes };
    }
    case 0x35e:
      return { id, data: new FrameWriter(8).ascii(0, v.manufacturer, 8, 0x20).bytes };
    case 0x35f: {
      const w = new FrameWriter(8);
      if (layout.identity === 'sma') {
        // Battery type 0x4C49 ("LI" read little-endian), BMS version major.minor, capacity, manufacturer id 0.
        w.u16(0, 0x494c, 1, 'type').u8(2, v.firmware.minor).u8(3, v.firmware.major).u16(4, v.capacityAh, 1, 'capacity');
      } else {
        // Type id 0, firmware version MSB first, capacity, hardware id 0.
        w.u8(2, v.firmware.major).u8(3, v.firmware.minor).u16(4, v.capacityAh, 1, 'capacity');
      }
      return { id, data: w.bytes };
    }
    case 0x372:
      return {
        id,
        data: new FrameWriter(8)
          .u16(0, v.modules, 1, 'modules')
          .u16(2, v.modulesBlockingCharge, 1, 'modules blocking charge')
          .u16(4, v.modulesBlockingDischarge, 1, 'modules blocking discharge')
          .u16(6, v.modulesOffline, 1, 'modules offline').bytes,
      };
    case 0x373:
      return {
        id,
        data: new FrameWriter(8)
          .u16(0, v.cellVoltageMin, 0.001, 'lowest cell voltage')
          .u16(2, v.cellVoltageMax, 0.001, 'highest cell voltage')
          .u16(4, v.temperatureMin + KELVIN, 1, 'lowest temperature')
          .u16(6, v.temperatureMax + KELVIN, 1, 'highest temperature').bytes,
      };
    case 0x374:
    case 0x375:
    case 0x376:
    case 0x377:
      return { id, data: new FrameWriter(8).ascii(0, v[EXTREME_IDS[id]], 8, 0).bytes };
    case 0x379:
      return { id, data: new FrameWriter(2).u16(0, v.capacityAh, 1, 'capacity').bytes };
    case 0x382:
      return { id, data: new FrameWriter(8).ascii(0, v.product, 8, 0).bytes };
  }
}

/** The family's whole frame set, in sending order. */
export function encodePylonFrames(v: PylonValues, family: PylonFamily): CanFrame[] {
  return family.frames.map((id) => encodePylonFrame(id, v, family.layout));
}

/** What an inverter said on the bus (docs/inverter.md#inverter-frames). */
export type InverterFrame =
  | { readonly kind: 'keep-alive'; readonly id: number }
  /** SMA Sunny Island 0x305: its own measurements. */
  | {
      readonly kind: 'sma-values';
      readonly id: 0x305;
      readonly voltage: number;
      readonly current: number;
      readonly temperature: number;
      readonly soc: number;
    }
  /** Victron GX 0x307: `12 34 56 78`, then "VIC". */
  | { readonly kind: 'victron'; readonly id: 0x307 }
  /** LuxPower 0x300: byte 0 bit 0 asks the battery to shut down (never acted on). */
  | { readonly kind: 'shutdown-request'; readonly id: 0x300; readonly shutdown: boolean }
  | { readonly kind: 'other'; readonly id: number };

/**
 * Reads a frame an inverter sent. 0x305–0x307 count as its keep-alive whatever they carry; an
 * SMA 0x305 carrying values is decoded as such.
 */
export function decodeInverterFrame(frame: CanFrame, family?: PylonFamily): InverterFrame {
  const d = frame.data;
  if (frame.extended) return { kind: 'other', id: frame.id };
  if (frame.id === 0x305 && family?.id === 'sma' && d.length >= 8) {
    const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
    return {
      kind: 'sma-values',
      id: 0x305,
      voltage: view.getInt16(0, true) / 10,
      current: view.getInt16(2, true) / 10,
      temperature: view.getInt16(4, true) / 10,
      soc: view.getUint16(6, true),
    };
  }
  if (frame.id === 0x307 && d.length >= 7 && d[0] === 0x12 && d[1] === 0x34 && d[4] === 0x56 && d[5] === 0x49)
    return { kind: 'victron', id: 0x307 };
  if (frame.id === 0x305 || frame.id === 0x306 || frame.id === 0x307) return { kind: 'keep-alive', id: frame.id };
  if (frame.id === 0x300) return { kind: 'shutdown-request', id: 0x300, shutdown: ((d[0] ?? 0) & 0x01) !== 0 };
  return { kind: 'other', id: frame.id };
}
