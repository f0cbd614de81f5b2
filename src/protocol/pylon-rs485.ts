import type { PackAlarms } from './alarms';
import type { PackAnalog } from './analog';
import { ByteWriter } from './bytes';
import { encodeFrame, parseFrame, type Frame } from './frame';
import type { Fields } from './codec';
import { encodeResponse } from './response';

/**
 * The battery side of Pylontech RS485 (docs/inverter.md#pylontech-rs485): the bank answers an
 * inverter's polls as one battery. Frames are the ASCII frames of the codec (`~`, VER ADR CID1 CID2
 * LENGTH INFO CHKSUM, CR), CID1 0x46, fields big-endian.
 */

export const PYLON_CID1 = 0x46;
/** The protocol version a Pylontech battery answers with (and puts in the 0x4F reply). */
export const PYLON_VERSION = 0x20;

/** A value and where it is: the pack number (group 0). */
export interface Located {
  readonly value: number;
  readonly pack: number;
}

export interface TemperatureSummary {
  readonly mean: number;
  readonly max: Located;
  readonly min: Located;
}

/** The bank as one battery for an inverter's polls. */
export interface Rs485Battery {
  /** 0x42: every counted pack as a module of the stack, numbered from 1. */
  readonly modules: readonly PackAnalog[];
  /** 0x44: each module's codes, in the same order. */
  readonly moduleAlarms: readonly PackAlarms[];
  /** 0x92 / 0x63. */
  readonly limits: {
    readonly chargeVoltage: number;
    readonly dischargeVoltage: number;
    readonly chargeCurrent: number;
    readonly dischargeCurrent: number;
    readonly chargeEnable: boolean;
    readonly dischargeEnable: boolean;
    readonly forceCharge1: boolean;
    readonly forceCharge2: boolean;
    readonly fullChargeRequest: boolean;
  };
  /** 0x61. */
  readonly system: {
    readonly voltage: number;
    readonly current: number;
    readonly soc: number;
    readonly cyclesMean: number;
    readonly cyclesMax: number;
    readonly sohMean: number;
    readonly sohMin: number;
    readonly cellMax: Located;
    readonly cellMin: Located;
    readonly cellTemperature: TemperatureSummary;
    readonly mosfetTemperature: TemperatureSummary;
    readonly bmsTemperature: TemperatureSummary;
  };
  /** 0x47: the limits the bank works to, per cell and for the bank (V, °C, A). */
  readonly parameters: {
    readonly cellHighVoltage: number;
    readonly cellLowVoltage: number;
    readonly cellUnderVoltage: number;
    readonly chargeHighTemperature: number;
    readonly chargeLowTemperature: number;
    readonly chargeCurrentLimit: number;
    readonly moduleHighVoltage: number;
    readonly moduleLowVoltage: number;
    readonly moduleUnderVoltage: number;
    readonly dischargeHighTemperature: number;
    readonly dischargeLowTemperature: number;
    readonly dischargeCurrentLimit: number;
  };
  /** 0x62: alarm 1, alarm 2, protection 1, protection 2 (bits in docs/inverter.md#pylontech-rs485). */
  readonly systemAlarms: readonly [number, number, number, number];
  readonly identity: {
    /** Up to 10 ASCII characters. */
    readonly deviceName: string;
    /** Up to 20 ASCII characters. */
    readonly manufacturer: string;
    readonly softwareVersion: { readonly major: number; readonly minor: number };
    /** One per counted pack, up to 16 ASCII characters each. */
    readonly serials: readonly string[];
  };
}

export interface Rs485AnswerOptions {
  /** The address the bank answers at and replies from (a single-group master: 0x02). */
  readonly address: number;
  /** 0x63 current unit: RS485 V3.5 reads 0.01 A, some emulators send 0.1 A. */
  readonly systemCurrentUnit: 0.01 | 0.1;
}

/** What a request asked and what went back (null: nothing sent). */
export interface Rs485Exchange {
  readonly request: Frame;
  readonly reply: string | null;
  readonly command: string;
}

const COMMAND_NAMES: Readonly<Record<number, string>> = {
  0x42: 'analog',
  0x44: 'alarms',
  0x47: 'systemParameters',
  0x4f: 'protocolVersion',
  0x51: 'manufacturer',
  0x60: 'systemInfo',
  0x61: 'systemAnalog',
  0x62: 'systemAlarms',
  0x63: 'systemManagement',
  0x92: 'chargeLimits',
  0x93: 'serial',
  0x96: 'version',
};

const clampInt = (value: number, min: number, max: number): number =>
  Math.min(max, Math.max(min, Math.round(Number.isFinite(value) ? value : 0)));

const deciKelvin = (celsius: number): number => clampInt(celsius * 10 + 2731, 0, 0xffff);

function ascii(text: string, length: number): Uint8Array {
  const out = new Uint8Array(length).fill(0x20);
  for (let i = 0; i < Math.min(length, text.length); i++) {
    const c = text.charCodeAt(i);
    out[i] = c >= 0x20 && c <= 0x7e ? c : 0x20;
  }
  return out;
}

function temperatures(w: ByteWriter, t: TemperatureSummary): void {
  w.int('u16', deciKelvin(t.mean), 'temperature')
    .int('u16', deciKelvin(t.max.value), 'temperature')
    .int('u16', clampInt(t.max.pack, 0, 0xffff), 'location')
    .int('u16', deciKelvin(t.min.value), 'temperature')
    .int('u16', clampInt(t.min.pack, 0, 0xffff), 'location');
}

function statusByte(l: Rs485Battery['limits'], fullBit: number): number {
  return (
    (l.chargeEnable ? 0x80 : 0) |
    (l.dischargeEnable ? 0x40 : 0) |
    (l.forceCharge1 ? 0x20 : 0) |
    (fullBit === 3 && l.forceCharge2 ? 0x10 : 0) |
    (l.fullChargeRequest ? 1 << fullBit : 0)
  );
}

/** INFO of the system commands 0x60–0x63 (RS485 V3.5). */
function systemInfo(cid2: number, b: Rs485Battery, options: Rs485AnswerOptions): Uint8Array {
  const w = new ByteWriter();
  switch (cid2) {
    case 0x60: {
      w.bytes(ascii(b.identity.deviceName, 10)).bytes(ascii(b.identity.manufacturer, 20));
      w.int('u8', clampInt(b.identity.softwareVersion.major, 0, 255), 'version');
      w.int('u8', clampInt(b.identity.softwareVersion.minor, 0, 255), 'version');
      const serials = b.identity.serials.slice(0, 255);
      w.int('u8', serials.length, 'count');
      for (const serial of serials) w.bytes(ascii(serial, 16));
      break;
    }
    case 0x61: {
      const s = b.system;
      w.int('u16', clampInt(s.voltage * 1000, 0, 0xffff), 'voltage')
        .int('s16', clampInt(s.current * 100, -0x8000, 0x7fff), 'current')
        .int('u8', clampInt(s.soc, 0, 100), 'SOC')
        .int('u16', clampInt(s.cyclesMean, 0, 0xffff), 'cycles')
        .int('u16', clampInt(s.cyclesMax, 0, 0xffff), 'cycles')
        .int('u8', clampInt(s.sohMean, 0, 100), 'SOH')
        .int('u8', clampInt(s.sohMin, 0, 100), 'SOH')
        .int('u16', clampInt(s.cellMax.value * 1000, 0, 0xffff), 'cell')
        .int('u16', clampInt(s.cellMax.pack, 0, 0xffff), 'location')
        .int('u16', clampInt(s.cellMin.value * 1000, 0, 0xffff), 'cell')
        .int('u16', clampInt(s.cellMin.pack, 0, 0xffff), 'location');
      temperatures(w, s.cellTemperature);
      temperatures(w, s.mosfetTemperature);
      temperatures(w, s.bmsTemperature);
      break;
    }
    case 0x62:
      for (const byte of b.systemAlarms) w.int('u8', byte & 0xff, 'alarm');
      break;
    case 0x63: {
      const l = b.limits;
      const unit = options.systemCurrentUnit;
      w.int('u16', clampInt(l.chargeVoltage * 1000, 0, 0xffff), 'CVL')
        .int('u16', clampInt(l.dischargeVoltage * 1000, 0, 0xffff), 'DVL')
        .int('s16', clampInt(Math.max(0, l.chargeCurrent) / unit, 0, 0x7fff), 'CCL')
        .int('s16', clampInt(Math.max(0, l.dischargeCurrent) / unit, 0, 0x7fff), 'DCL')
        .int('u8', statusByte(l, 4), 'status');
      break;
    }
  }
  return w.toBytes();
}

/**
 * The reply to one request, or null to stay silent: a frame that does not parse, another CID1, an
 * address that is not the bank's, or no battery to describe (`battery` null: data too old — the
 * inverter's own timeout takes over). Commands the bank does not serve get RTN 04.
 */
export function answerPylonRs485(
  requestText: string,
  battery: Rs485Battery | null,
  options: Rs485AnswerOptions,
): Rs485Exchange | null {
  let request: Frame;
  try {
    request = parseFrame(requestText);
  } catch {
    return null;
  }
  const command = COMMAND_NAMES[request.cid2] ?? `0x${request.cid2.toString(16).toUpperCase()}`;
  if (request.cid1 !== PYLON_CID1 || request.address !== options.address) return null;
  const exchange = (reply: string | null): Rs485Exchange => ({ request, reply, command });
  if (!battery) return exchange(null);
  const address = options.address;
  const frame = (cid2: number, info: Uint8Array, version = PYLON_VERSION): string =>
    encodeFrame({ version, address, cid1: PYLON_CID1, cid2, info });
  const reply = (name: string, data: Fields, extra: Fields = {}): string =>
    encodeResponse(name, data, {
      dialect: 'pylontech',
      address,
      request: { pack: request.info[0] ?? address },
      options: extra,
    });
  const l = battery.limits;
  switch (request.cid2) {
    case 0x4f:
      return exchange(frame(0x00, new Uint8Array(0)));
    case 0x51:
      return exchange(
        reply('manufacturer', {
          deviceName: battery.identity.deviceName.slice(0, 10),
          softwareVersion: `${String(battery.identity.softwareVersion.major)}.${String(battery.identity.softwareVersion.minor)}`,
          manufacturer: battery.identity.manufacturer.slice(0, 20),
        }),
      );
    case 0x42:
    case 0x44: {
      // COMMAND FF: every module; otherwise the module at that position (our address is the first).
      const command = request.info[0] ?? 0xff;
      const index = command === 0xff ? null : command - address;
      if (index !== null && (index < 0 || index >= battery.modules.length))
        return exchange(frame(0x90, new Uint8Array(0)));
      // One module answers under the number it was asked by.
      const pick = <T extends { readonly pack: number }>(all: readonly T[]): T[] =>
        index === null ? [...all] : all.slice(index, index + 1).map((m) => ({ ...m, pack: command }));
      if (request.cid2 === 0x42) return exchange(reply('analog', { packs: pick(battery.modules) }, { infoFlag: 0 }));
      const modules = pick(battery.modules);
      return exchange(
        reply(
          'alarms',
          { packs: pick(battery.moduleAlarms) },
          {
            cellCount: modules[0]?.cellVoltages.length ?? 16,
            tempCount: modules[0]?.temperatures.length ?? 6,
          },
        ),
      );
    }
    case 0x92:
      // A Pylontech module sends its discharge current limit negative here (docs/inverter.md#pylontech-rs485).
      return exchange(
        reply('chargeLimits', {
          chargeVoltage: l.chargeVoltage,
          dischargeVoltage: l.dischargeVoltage,
          chargeCurrent: Math.max(0, l.chargeCurrent),
          dischargeCurrent: -Math.max(0, l.dischargeCurrent),
          chargeEnabled: l.chargeEnable,
          dischargeEnabled: l.dischargeEnable,
          forceCharge1: l.forceCharge1,
          forceCharge2: l.forceCharge2,
          fullChargeRequest: l.fullChargeRequest,
        }),
      );
    case 0x96: {
      const v = battery.identity.softwareVersion;
      const text = `${String(v.major)}.${String(v.minor)}`;
      return exchange(reply('version', { manufacturerVersion: text, mainlineVersion: text }));
    }
    case 0x47:
      return exchange(reply('systemParameters', { ...battery.parameters }));
    case 0x93:
      return exchange(reply('serial', { serial: (battery.identity.serials[0] ?? '').padEnd(16, ' ').slice(0, 16) }));
    case 0x60:
    case 0x61:
    case 0x62:
    case 0x63:
      return exchange(frame(0x00, systemInfo(request.cid2, battery, options)));
    default:
      return exchange(frame(0x04, new Uint8Array(0)));
  }
}
