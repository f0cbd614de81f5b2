import {
  FrameError,
  decodeStatusBytes,
  formatLocalTime,
  inverterProtocolCode,
  inverterProtocolName,
  inverterProtocols,
  type InverterPort,
  type PackAlarms,
} from '../protocol';
import { addressed, type BmsClient } from './client';
import { readUntilAgreed, sameData } from './confirm';

/** A switch that did not end in the state asked for, or that the BMS refused. */
export class ControlError extends Error {
  override readonly name = 'ControlError';
  constructor(
    message: string,
    readonly kind: 'refused' | 'not-applied' | 'invalid',
  ) {
    super(message);
  }
}

/** The BMS clock reads local time; drift is BMS minus host, in seconds. */
function parseLocal(time: string): number {
  const [date = '', clock = ''] = time.split('T');
  const [y = 0, mo = 1, d = 1] = date.split('-').map(Number);
  const [h = 0, mi = 0, s = 0] = clock.split(':').map(Number);
  return new Date(y, mo - 1, d, h, mi, s).getTime();
}

export interface ClockReading {
  readonly time: string;
  readonly host: string;
  readonly driftSeconds: number;
}

export async function readClock(
  client: BmsClient,
  address?: number,
  now: () => number = Date.now,
): Promise<ClockReading> {
  const { data } = await client.call('readClock', {}, { priority: 'interactive', ...addressed(address) });
  const time = data.time;
  const host = now();
  return { time, host: formatLocalTime(new Date(host)), driftSeconds: Math.round((parseLocal(time) - host) / 1000) };
}

/**
 * Sets the BMS clock from host time and reads it back until two reads agree (on the drift: the
 * clock itself moves on between them). The acknowledgement may be lost; the read-back decides.
 */
export async function setClock(
  client: BmsClient,
  address?: number,
  now: () => number = Date.now,
): Promise<ClockReading> {
  return client.exclusive(async (own) => {
    await own
      .call(
        'writeClock',
        { time: formatLocalTime(new Date(now())) },
        { priority: 'interactive', retries: 0, ...addressed(address) },
      )
      .catch((err: unknown) => {
        if (err instanceof FrameError && err.kind === 'rtn') throw err;
      });
    const back = await readUntilAgreed(
      () => readClock(own, address, now),
      (a, b) => Math.abs(a.driftSeconds - b.driftSeconds) <= 1,
      'reading the clock back',
    );
    if (Math.abs(back.driftSeconds) > 2)
      throw new ControlError(
        `the clock reads ${back.time} after setting it (${back.driftSeconds} s off the host)`,
        'not-applied',
      );
    return back;
  });
}

export type SwitchName = 'chargeMos' | 'dischargeMos' | 'buzzer' | 'ledAlarm' | 'limiter' | 'limiterLowGear';
export const SWITCH_NAMES: readonly SwitchName[] = [
  'chargeMos',
  'dischargeMos',
  'buzzer',
  'ledAlarm',
  'limiter',
  'limiterLowGear',
];

/**
 * 0x99 codes (docs/protocol.md#switches) and the control-state bit that shows the result, with the spec's
 * polarity (b4 / b5: 1 = disabled). Some firmware is said to invert LED and limiter (docs/pitfalls.md#p-17): the read-back, not the command, decides what is reported.
 */
const CONTROL_SWITCHES: Readonly<
  Record<
    Exclude<SwitchName, 'chargeMos' | 'dischargeMos'>,
    { on: number; off: number; bit: number; setMeansOn: boolean }
  >
> = {
  buzzer: { on: 0x0d, off: 0x0c, bit: 0, setMeansOn: true },
  ledAlarm: { on: 0x06, off: 0x07, bit: 5, setMeansOn: false },
  limiter: { on: 0x0a, off: 0x0b, bit: 4, setMeansOn: false },
  limiterLowGear: { on: 0x09, off: 0x08, bit: 3, setMeansOn: true },
};

export interface SwitchResult {
  readonly switch: SwitchName;
  readonly requested: boolean;
  /** What the pack reports afterwards (0x44). */
  readonly reported: boolean;
}

async function readStatus(
  client: BmsClient,
  address: number | undefined,
): Promise<{ alarms: PackAlarms | undefined; control: number | null }> {
  const pack = address ?? 1;
  const result = await client.call('alarms', { pack }, { priority: 'interactive', ...addressed(address) });
  const [alarms] = result.data.packs;
  const control = decodeStatusBytes(result.reply.frame.info, client.dialect, false)[0]?.control ?? null;
  return { alarms, control };
}

/**
 * Switches, then reads the state back until two reads agree; a refusal or a state that did not
 * change is an error. A lost acknowledgement is settled by the read-back.
 */
export function setSwitch(
  client: BmsClient,
  address: number | undefined,
  name: SwitchName,
  on: boolean,
): Promise<SwitchResult> {
  return client.exclusive((own) => switchAndCheck(own, address, name, on));
}

async function switchAndCheck(
  client: BmsClient,
  address: number | undefined,
  name: SwitchName,
  on: boolean,
): Promise<SwitchResult> {
  try {
    if (name === 'chargeMos' || name === 'dischargeMos')
      await client.call(name, { on }, { priority: 'interactive', retries: 0, ...addressed(address) });
    else
      await client.call(
        'switchControl',
        { code: on ? CONTROL_SWITCHES[name].on : CONTROL_SWITCHES[name].off },
        { priority: 'interactive', retries: 0, ...addressed(address) },
      );
  } catch (err) {
    if (err instanceof FrameError && err.kind === 'rtn') {
      const why =
        name === 'chargeMos' || name === 'dischargeMos'
          ? ' (current is flowing through it, or the other MOSFET is already off)'
          : '';
      throw new ControlError(
        `the pack refused to switch ${name} ${on ? 'on' : 'off'}${why}: ${err.message}`,
        'refused',
      );
    }
  }
  const status = await readUntilAgreed(
    () => readStatus(client, address),
    (a, b) =>
      a.control === b.control &&
      a.alarms?.chargeMos === b.alarms?.chargeMos &&
      a.alarms?.dischargeMos === b.alarms?.dischargeMos,
    `reading ${name} back`,
  );
  let reported: boolean | null;
  if (name === 'chargeMos') reported = status.alarms?.chargeMos ?? null;
  else if (name === 'dischargeMos') reported = status.alarms?.dischargeMos ?? null;
  else {
    const spec = CONTROL_SWITCHES[name];
    reported = status.control === null ? null : (((status.control >> spec.bit) & 1) === 1) === spec.setMeansOn;
  }
  if (reported === null) throw new ControlError(`${name}: the pack's status reply does not show it`, 'not-applied');
  if (reported !== on) {
    const hint =
      name === 'ledAlarm' || name === 'limiter' ? ' (some firmware uses the opposite polarity for this switch)' : '';
    throw new ControlError(`${name} is still ${reported ? 'on' : 'off'} after the command${hint}`, 'not-applied');
  }
  return { switch: name, requested: on, reported };
}

/** 0x9C: the BMS sleeps after its timer (it wakes at once if current flows). */
export async function shutdown(client: BmsClient, address?: number): Promise<void> {
  await client.exclusive((own) =>
    own.call('shutdown', {}, { priority: 'interactive', retries: 0, ...addressed(address) }),
  );
}

export interface InverterProtocols {
  readonly can: { readonly code: number; readonly name: string };
  readonly rs485: { readonly code: number; readonly name: string };
  readonly manual: boolean;
}

export async function readInverterProtocol(client: BmsClient, address?: number): Promise<InverterProtocols> {
  const { data } = await client.call('readInverterProtocol', {}, { priority: 'interactive', ...addressed(address) });
  const can = data.canProtocol;
  const rs485 = data.rs485Protocol;
  return {
    can: { code: can, name: inverterProtocolName('can', can) },
    rs485: { code: rs485, name: inverterProtocolName('rs485', rs485) },
    manual: data.manual,
  };
}

/** Sets either or both protocols (code or name, as in §6.9), then reads them back. */
export async function writeInverterProtocol(
  client: BmsClient,
  address: number | undefined,
  wanted: { can?: unknown; rs485?: unknown },
): Promise<InverterProtocols> {
  const can = wanted.can === undefined ? 0xff : inverterProtocolCode('can', wanted.can);
  const rs485 = wanted.rs485 === undefined ? 0xff : inverterProtocolCode('rs485', wanted.rs485);
  const names = (port: InverterPort): string =>
    inverterProtocols(port)
      .map((p) => p.name)
      .join(', ');
  if (can === null)
    throw new ControlError(`unknown CAN protocol ${JSON.stringify(wanted.can)} (one of: ${names('can')})`, 'invalid');
  if (rs485 === null)
    throw new ControlError(
      `unknown RS485 protocol ${JSON.stringify(wanted.rs485)} (one of: ${names('rs485')})`,
      'invalid',
    );
  if (wanted.can === undefined && wanted.rs485 === undefined)
    throw new ControlError('give can and/or rs485', 'invalid');
  // FF leaves a port as it is (§6.9); "disabled" is also FF, so disabling one port alone is not possible here.
  const back = await client.exclusive(async (own) => {
    await own
      .call(
        'writeInverterProtocol',
        { canProtocol: can, rs485Protocol: rs485, manual: true },
        { priority: 'interactive', retries: 0, ...addressed(address) },
      )
      .catch((err: unknown) => {
        if (err instanceof FrameError && err.kind === 'rtn') throw err;
      });
    return readUntilAgreed(() => readInverterProtocol(own, address), sameData, 'reading the inverter protocol back');
  });
  if (
    (wanted.can !== undefined && back.can.code !== can) ||
    (wanted.rs485 !== undefined && back.rs485.code !== rs485)
  ) {
    throw new ControlError(
      `the pack reports CAN ${back.can.name} / RS485 ${back.rs485.name} after the change`,
      'not-applied',
    );
  }
  return back;
}
