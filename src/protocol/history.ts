import { PACE_CHARGE_MOS, PACE_DISCHARGE_MOS, PACE_STATUS_RULES, alarmsToRaw, rawToAlarms } from './alarms';
import { intField, layoutCodec, textField, type Fields, type InfoCodec } from './codec';
import { formatClock, parseClock } from './clock';
import { FrameError } from './errors';
import { compileLayout, num, nums, type RawRecord, type Step } from './layout';
import { Q, fromSi, toSi } from './units';

const CLOCK_STEPS: readonly Step[] = [
  { name: 'year', type: 'u8' },
  { name: 'month', type: 'u8' },
  { name: 'day', type: 'u8' },
  { name: 'hour', type: 'u8' },
  { name: 'minute', type: 'u8' },
  { name: 'second', type: 'u8' },
];

/** PACE 0xA1 record (docs/protocol.md#clock-and-history); the status bytes use the 0x44 bit maps. */
const RECORD_STEPS: readonly Step[] = [
  ...CLOCK_STEPS,
  { name: 'cellCount', type: 'u8' },
  { name: 'cells', type: 'u16', countFrom: 'cellCount' },
  { name: 'tempCount', type: 'u8' },
  { name: 'temps', type: 'u16', countFrom: 'tempCount' },
  { name: 'current', type: 's16' },
  { name: 'voltage', type: 'u16' },
  { name: 'remaining', type: 'u16' },
  { name: 'full', type: 'u16' },
  { name: 'protect1', type: 'u8' },
  { name: 'protect2', type: 'u8' },
  { name: 'fault', type: 'u8' },
  { name: 'warn1', type: 'u8' },
  { name: 'warn2', type: 'u8' },
  { name: 'instruction', type: 'u8' },
  { name: 'cycles', type: 'u16' },
  // Older firmware fills these with FF.
  {
    optional: [
      { name: 'fault8', type: 'u8' },
      { name: 'fault10', type: 'u8' },
      { name: 'statusRecord', type: 'u16' },
    ],
  },
];

const RECORD_LAYOUT = compileLayout(RECORD_STEPS);
const STATUS = { rules: PACE_STATUS_RULES, chargeMos: PACE_CHARGE_MOS, dischargeMos: PACE_DISCHARGE_MOS, balance: [] };

const record = layoutCodec(
  RECORD_STEPS,
  (raw) => {
    const status = rawToAlarms(raw, STATUS);
    const statusRecord = raw.statusRecord;
    return {
      time: formatClock(raw),
      cellVoltages: nums(raw, 'cells').map((c) => toSi(Q.mV, c)),
      temperatures: nums(raw, 'temps').map((t) => toSi(Q.paceDeciKelvin, t)),
      current: toSi(Q.tenMa, num(raw, 'current')),
      voltage: toSi(Q.mV, num(raw, 'voltage')),
      remainingAh: toSi(Q.tenMah, num(raw, 'remaining')),
      fullAh: toSi(Q.tenMah, num(raw, 'full')),
      cycles: num(raw, 'cycles'),
      alarms: status.alarms,
      protections: status.protections,
      faults: status.faults,
      chargeMos: status.chargeMos,
      dischargeMos: status.dischargeMos,
      powerOn: typeof statusRecord === 'number' && statusRecord !== 0xffff ? (statusRecord & 1) === 1 : null,
    };
  },
  (value) => {
    const list = (name: string): string[] => {
      const v = value[name] ?? [];
      if (!Array.isArray(v) || v.some((c) => typeof c !== 'string'))
        throw new FrameError('range', `${name} must be a list of codes`);
      return v as string[];
    };
    const numbers = (name: string): unknown[] => {
      const v = value[name];
      if (!Array.isArray(v)) throw new FrameError('range', `${name} must be a list of numbers`);
      return v;
    };
    const status = alarmsToRaw(
      {
        balancingCells: [],
        alarms: list('alarms'),
        protections: list('protections'),
        faults: list('faults'),
        chargeMos: value.chargeMos === true,
        dischargeMos: value.dischargeMos === true,
      },
      { ...STATUS, block: RECORD_LAYOUT },
    );
    const raw: RawRecord = {
      ...status,
      ...parseClock(textField(value.time, 'time')),
      cells: numbers('cellVoltages').map((v, i) => fromSi(Q.mV, v, `cellVoltages[${i}]`)),
      temps: numbers('temperatures').map((v, i) => fromSi(Q.paceDeciKelvin, v, `temperatures[${i}]`)),
      current: fromSi(Q.tenMa, value.current, 'current'),
      voltage: fromSi(Q.mV, value.voltage, 'voltage'),
      remaining: fromSi(Q.tenMah, value.remainingAh, 'remainingAh'),
      full: fromSi(Q.tenMah, value.fullAh, 'fullAh'),
      cycles: intField(value.cycles, 'cycles'),
      fault8: 0,
      fault10: 0,
      statusRecord: value.powerOn === true ? 1 : 0,
    };
    delete raw.cellAlarms;
    delete raw.tempAlarms;
    return raw;
  },
);

/** Past the last record the BMS answers RTN 00 with empty INFO: decoded as `{}`. */
export const HISTORY_RECORD: InfoCodec = {
  shape: ['history', 'bytes:0'],
  decode: (info, ctx) => (info.length === 0 ? {} : record.decode(info, ctx)),
  encode: (value: Fields, ctx) => (Object.keys(value).length === 0 ? new Uint8Array(0) : record.encode(value, ctx)),
};

export { CLOCK_STEPS };
