import { ByteReader, ByteWriter } from './bytes';
import { readBlocks, writeBlocks, type BlockSplit } from './blocks';
import type { Dialect } from './dialect';
import { FrameError } from './errors';
import { compileLayout, num, nums, readLayout, writeLayout, type Layout, type RawRecord, type Step } from './layout';
import { temperatureRoles, type TemperatureRole } from './temperature-roles';
import { Q, fromSi, toSi, type Quantity } from './units';

/** One pack's 0x42 values in SI units; `current` is positive while charging. */
export interface PackAnalog {
  readonly pack: number;
  readonly cellVoltages: readonly number[];
  readonly temperatures: readonly (number | null)[];
  /**
   * Where each temperature sensor sits, by the dialect's sensor order. Set by the decoder; a reading
   * built without it (history, by hand) is read by the common shapes for its sensor count.
   */
  readonly temperatureRoles?: readonly TemperatureRole[];
  readonly current: number;
  readonly voltage: number;
  readonly remainingAh: number;
  readonly fullAh: number;
  readonly designAh: number | null;
  readonly cycles: number;
  readonly soc: number | null;
  readonly soh: number | null;
  /** False for the all-zero slot a master sends for a slave it cannot reach. */
  readonly online: boolean;
}

export interface AnalogData {
  readonly packs: readonly PackAnalog[];
}

interface AnalogUnits {
  readonly cell: Quantity;
  readonly voltage: Quantity;
  readonly current: Quantity;
  readonly capacity: Quantity;
  readonly temperature: Quantity;
  /** Set when the layout carries SOC / SOH fields; otherwise they are computed. */
  readonly soc?: Quantity;
  readonly soh?: Quantity;
}

interface AnalogLayout {
  readonly dialect: Dialect;
  readonly split: BlockSplit;
  readonly block: Layout;
  readonly units: AnalogUnits;
  /** UD / custom-number byte the encoder writes. */
  readonly ud: number;
  /** Re-decide units from the decoded values (Pylontech layout spoken by PACE-built packs). */
  readonly unitsFor?: (raw: RawRecord) => AnalogUnits;
  /** Fill layout-specific fields (tails, summaries) when encoding. */
  readonly complete?: (raw: RawRecord, options: AnalogEncodeOptions) => void;
}

export interface AnalogEncodeOptions {
  /** PACE: how many optional tail fields follow the cycle counter (0..9, default 2 = design + SOC). */
  readonly paceTailFields?: number;
  /** Pylontech: speak the Pylontech layout with PACE units, like some PACE-built packs. */
  readonly pylontechPaceUnits?: boolean;
  readonly infoFlag?: number;
}

const CORE: readonly Step[] = [
  { name: 'cellCount', type: 'u8' },
  { name: 'cells', type: 'u16', countFrom: 'cellCount' },
  { name: 'tempCount', type: 'u8' },
  { name: 'temps', type: 'u16', countFrom: 'tempCount' },
  { name: 'current', type: 's16' },
  { name: 'voltage', type: 'u16' },
];

const PACE_TAIL: readonly Step[] = [
  { name: 'design', type: 'u16' },
  { name: 'soc', type: 'u8' },
  { name: 'cumulativeCharge', type: 'u32' },
  { name: 'cumulativeDischarge', type: 'u32' },
  { name: 'soh', type: 'u8' },
  { name: 'independentVoltage', type: 'u16' },
  { name: 'independentCurrent', type: 's16' },
  { name: 'summaryRemaining', type: 'u32' },
  { name: 'summaryFull', type: 'u32' },
];

const PACE_UNITS: AnalogUnits = {
  cell: Q.mV,
  voltage: Q.mV,
  current: Q.tenMa,
  capacity: Q.tenMah,
  temperature: Q.paceDeciKelvin,
  soc: Q.percent,
  soh: Q.percent,
};
const PYLONTECH_UNITS: AnalogUnits = {
  cell: Q.mV,
  voltage: Q.mV,
  current: Q.hundredMa,
  capacity: Q.mAh,
  temperature: Q.deciKelvin,
};
const PYLONTECH_PACE_UNITS: AnalogUnits = {
  cell: Q.mV,
  voltage: Q.mV,
  current: Q.tenMa,
  capacity: Q.tenMah,
  temperature: Q.paceDeciKelvin,
};

/** Rows of the 0x42 layout table; a firmware variant with another field order is another row. */
const LAYOUTS: Readonly<Record<Dialect, AnalogLayout>> = {
  pace: {
    dialect: 'pace',
    split: 'equal',
    ud: 0x02,
    units: PACE_UNITS,
    block: compileLayout([
      ...CORE,
      { name: 'remaining', type: 'u16' },
      { name: 'ud', type: 'u8' },
      { name: 'full', type: 'u16' },
      { name: 'cycles', type: 'u16' },
      // Tail length differs by firmware (2, 3, 12, 16, 24 bytes): read in spec order as far as present.
      { optional: PACE_TAIL },
      { rest: 'unknownTail' },
    ]),
    complete: (raw, options) => {
      const tail: RawRecord = {
        design: raw.design ?? 0,
        soc: raw.soc,
        cumulativeCharge: 0,
        cumulativeDischarge: 0,
        soh: raw.soh,
        independentVoltage: raw.voltage,
        independentCurrent: raw.current,
        summaryRemaining: raw.remaining,
        summaryFull: raw.full,
      };
      const keep = options.paceTailFields ?? 2;
      if (keep < 0 || keep > PACE_TAIL.length)
        throw new FrameError('range', `paceTailFields must be 0..${PACE_TAIL.length}`);
      PACE_TAIL.forEach((step, i) => {
        if ('name' in step) raw[step.name] = i < keep ? tail[step.name] : undefined;
      });
    },
  },
  pylontech: {
    dialect: 'pylontech',
    split: 'walk',
    ud: 0x02,
    units: PYLONTECH_UNITS,
    block: compileLayout([
      ...CORE,
      { name: 'remaining', type: 'u16' },
      { name: 'ud', type: 'u8' },
      { name: 'full', type: 'u16' },
      { name: 'cycles', type: 'u16' },
      // Modules over 65 Ah put 0xFFFF above and the real mAh here (docs/pitfalls.md#p-11).
      {
        when: 'ud',
        atLeast: 4,
        steps: [
          { name: 'remainingWide', type: 'u24' },
          { name: 'fullWide', type: 'u24' },
        ],
      },
    ]),
    unitsFor: pylontechUnits,
  },
  seplos: {
    dialect: 'seplos',
    split: 'equal',
    ud: 0x0a,
    units: {
      cell: Q.mV,
      voltage: Q.tenMv,
      current: Q.tenMa,
      capacity: Q.tenMah,
      temperature: Q.deciKelvin,
      soc: Q.permille,
      soh: Q.permille,
    },
    block: compileLayout([
      ...CORE,
      { name: 'remaining', type: 'u16' },
      { name: 'ud', type: 'u8' },
      { name: 'full', type: 'u16' },
      { name: 'soc', type: 'u16' },
      { name: 'design', type: 'u16' },
      { name: 'cycles', type: 'u16' },
      { name: 'soh', type: 'u16' },
      { name: 'portVoltage', type: 'u16' },
      { rest: 'reserved' },
    ]),
    complete: (raw) => {
      raw.design ??= 0;
      raw.portVoltage = raw.voltage;
      raw.reserved = new Uint8Array(8);
    },
  },
  eg4: {
    dialect: 'eg4',
    split: 'equal',
    ud: 0x0f,
    units: {
      cell: Q.mV,
      voltage: Q.tenMv,
      current: Q.tenMa,
      capacity: Q.tenMah,
      temperature: Q.deciKelvin,
      soc: Q.percent,
      soh: Q.percent,
    },
    block: compileLayout([
      { name: 'cellCount', type: 'u8' },
      { name: 'cells', type: 'u16', countFrom: 'cellCount' },
      // EG4 announces 4 temperatures and sends 6 (cells, environment, MOSFET): docs/pitfalls.md#p-13.
      { name: 'tempCount', type: 'u8' },
      { name: 'temps', type: 'u16', countFrom: 'tempCount', extra: 2 },
      { name: 'current', type: 's16' },
      { name: 'voltage', type: 'u16' },
      { name: 'remaining', type: 'u16' },
      { name: 'full', type: 'u16' },
      { name: 'cycles', type: 'u16' },
      { name: 'ud', type: 'u8' },
      { name: 'soc', type: 'u16' },
      { name: 'soh', type: 'u16' },
      {
        optional: [
          { name: 'maxCell', type: 'u16' },
          { name: 'minCell', type: 'u16' },
          { name: 'cellDifference', type: 'u16' },
          { name: 'maxTemperature', type: 'u16' },
          { name: 'minTemperature', type: 'u16' },
          { name: 'cumulativeCharge', type: 'u32' },
          { name: 'cumulativeDischarge', type: 'u32' },
          { name: 'cumulativeChargeWh', type: 'u32' },
          { name: 'cumulativeDischargeWh', type: 'u32' },
          { name: 'chargeHours', type: 'u32' },
          { name: 'dischargeHours', type: 'u32' },
          { name: 'chargeCount', type: 'u16' },
          { name: 'dischargeCount', type: 'u16' },
        ],
      },
      { rest: 'unknownTail' },
    ]),
    complete: (raw) => {
      const cells = nums(raw, 'cells');
      const temps = nums(raw, 'temps');
      raw.maxCell = cells.length ? Math.max(...cells) : 0;
      raw.minCell = cells.length ? Math.min(...cells) : 0;
      raw.cellDifference = num(raw, 'maxCell') - num(raw, 'minCell');
      const present = temps.filter((t) => t !== ABSENT_TEMPERATURE);
      raw.maxTemperature = present.length ? Math.max(...present) : 0;
      raw.minTemperature = present.length ? Math.min(...present) : 0;
      for (const name of [
        'cumulativeCharge',
        'cumulativeDischarge',
        'cumulativeChargeWh',
        'cumulativeDischargeWh',
        'chargeHours',
        'dischargeHours',
        'chargeCount',
        'dischargeCount',
      ])
        raw[name] = 0;
    },
  },
};

/** PACE V3.1 marks a missing temperature sensor with 0x8000. */
const ABSENT_TEMPERATURE = 0x8000;

/**
 * Pylontech layout: pick the pack-voltage scale that agrees with the sum of the cells, and detect
 * PACE-built packs that speak this layout in PACE units (docs/payloads.md, docs/pitfalls.md#p-09).
 */
function pylontechUnits(raw: RawRecord): AnalogUnits {
  const cells = nums(raw, 'cells');
  const cellSum = cells.reduce((a, b) => a + b, 0);
  const voltage = num(raw, 'voltage');
  const voltageQ = Math.abs(voltage - cellSum) <= Math.abs(voltage * 10 - cellSum) ? Q.mV : Q.tenMv;
  const ud = num(raw, 'ud');
  const paceBuilt = ud < 4 && ((ud === 2 && cells.length === 16) || num(raw, 'full') < 20_000);
  return { ...(paceBuilt ? PYLONTECH_PACE_UNITS : PYLONTECH_UNITS), voltage: voltageQ };
}

export function decodeAnalog(info: Uint8Array, dialect: Dialect, broadcast: boolean): AnalogData {
  const layout = LAYOUTS[dialect];
  const packs = readBlocks(info, broadcast, layout.split, (reader) => readLayout(reader, layout.block));
  return {
    packs: packs.map(({ pack, value }) => {
      const units = layout.unitsFor?.(value) ?? layout.units;
      // PACE-built packs speaking the Pylontech layout (told by their PACE capacity unit) keep PACE's sensor order too.
      const paceBuilt = dialect === 'pylontech' && units.capacity === PYLONTECH_PACE_UNITS.capacity;
      return checkUnits(rawToPack(pack, value, units, paceBuilt ? 'pace' : dialect), dialect);
    }),
  };
}

/**
 * The pack voltage and the sum of the cells agree within a fraction of a percent on every capture;
 * a wrong dialect or unit makes them differ tenfold. Such numbers must never reach a charger.
 */
function checkUnits(pack: PackAnalog, dialect: Dialect): PackAnalog {
  let cellSum = 0;
  for (const v of pack.cellVoltages) cellSum += v;
  if (cellSum > 0 && pack.voltage > 0 && (pack.voltage > 3 * cellSum || 3 * pack.voltage < cellSum)) {
    throw new FrameError(
      'dialect',
      `pack ${pack.pack}: voltage ${pack.voltage} V disagrees with the sum of its cells ${cellSum.toFixed(3)} V: not a ${dialect} reply, or other units`,
    );
  }
  return pack;
}

function rawToPack(pack: number, raw: RawRecord, units: AnalogUnits, sensorOrder: Dialect): PackAnalog {
  const cells = nums(raw, 'cells');
  const temps = nums(raw, 'temps');
  const cellVoltages = new Array<number>(cells.length);
  let allZero = num(raw, 'voltage') === 0;
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i] as number;
    if (c !== 0) allZero = false;
    cellVoltages[i] = toSi(units.cell, c);
  }
  const temperatures = new Array<number | null>(temps.length);
  for (let i = 0; i < temps.length; i++) {
    const t = temps[i] as number;
    temperatures[i] = t === ABSENT_TEMPERATURE ? null : toSi(units.temperature, t);
  }
  const wide = raw.remainingWide !== undefined && raw.fullWide !== undefined;
  const capacityQ = wide ? Q.mAh : units.capacity;
  const remaining = num(raw, wide ? 'remainingWide' : 'remaining');
  const full = num(raw, wide ? 'fullWide' : 'full');
  const design = typeof raw.design === 'number' ? raw.design : null;
  const soc = typeof raw.soc === 'number' && units.soc ? toSi(units.soc, raw.soc) : percentOf(remaining, full);
  const designPercent = design !== null && !wide ? percentOf(full, design) : null;
  const soh =
    typeof raw.soh === 'number' && units.soh
      ? toSi(units.soh, raw.soh)
      : designPercent === null
        ? null
        : Math.min(100, designPercent);
  const remainingAh = toSi(capacityQ, remaining);
  const fullAh = toSi(capacityQ, full);
  const designAh = design === null ? null : toSi(units.capacity, design);
  return {
    pack,
    cellVoltages,
    temperatures,
    current: toSi(units.current, num(raw, 'current')),
    voltage: toSi(units.voltage, num(raw, 'voltage')),
    remainingAh,
    fullAh,
    designAh,
    cycles: num(raw, 'cycles'),
    soc,
    soh,
    online: !allZero,
    temperatureRoles: temperatureRoles(sensorOrder, temps.length),
  };
}

/**
 * a / b in percent at 0.1 resolution, from the raw counts (same unit) so the ratio is exact and
 * halves round up: 13713050 / 20000 is 68565.25 %, which Ah floats would turn into 68565.2499….
 */
function percentOf(a: number, b: number): number | null {
  return b > 0 ? Math.round((a * 1000) / b) / 10 : null;
}

export function encodeAnalog(
  data: AnalogData,
  dialect: Dialect,
  broadcast: boolean,
  options: AnalogEncodeOptions = {},
): Uint8Array {
  const layout = LAYOUTS[dialect];
  const blocks = data.packs.map((pack) => {
    const writer = new ByteWriter();
    writeLayout(writer, layout.block, packToRaw(pack, layout, options));
    return writer.toBytes();
  });
  return writeBlocks(blocks, {
    broadcast,
    pack: data.packs[0]?.pack ?? 1,
    infoFlag: options.infoFlag ?? 0,
    split: layout.split,
  });
}

function packToRaw(pack: PackAnalog, layout: AnalogLayout, options: AnalogEncodeOptions): RawRecord {
  const paceUnits = layout.dialect === 'pylontech' && options.pylontechPaceUnits === true;
  const units = paceUnits ? PYLONTECH_PACE_UNITS : layout.units;
  const raw: RawRecord = {
    cells: pack.cellVoltages.map((v, i) => fromSi(units.cell, v, `cellVoltages[${i}]`)),
    temps: pack.temperatures.map((t, i) =>
      t === null ? ABSENT_TEMPERATURE : fromSi(units.temperature, t, `temperatures[${i}]`),
    ),
    current: fromSi(units.current, pack.current, 'current'),
    voltage: fromSi(units.voltage, pack.voltage, 'voltage'),
    remaining: fromSi(units.capacity, pack.remainingAh, 'remainingAh'),
    full: fromSi(units.capacity, pack.fullAh, 'fullAh'),
    cycles: pack.cycles,
    ud: layout.ud,
  };
  if (pack.designAh !== null) raw.design = fromSi(units.capacity, pack.designAh, 'designAh');
  if (units.soc && pack.soc !== null) raw.soc = fromSi(units.soc, pack.soc, 'soc');
  if (units.soh && pack.soh !== null) raw.soh = fromSi(units.soh, pack.soh, 'soh');
  if (layout.dialect === 'pylontech' && !paceUnits) {
    // The 16-bit form is ambiguous with PACE-built packs for 16 cells or < 20 Ah: use the wide form.
    const full = num(raw, 'full');
    if (full > 0xffff || num(raw, 'remaining') > 0xffff || pack.cellVoltages.length === 16 || full < 20_000) {
      raw.ud = 0x04;
      raw.remainingWide = raw.remaining;
      raw.fullWide = raw.full;
      raw.remaining = 0xffff;
      raw.full = 0xffff;
    }
  }
  if (!pack.online) zeroOfflineSlot(raw, units);
  layout.complete?.(raw, options);
  return raw;
}

/** A master fills the slot of an unreachable slave with zeros (and 0 °C temperatures). */
function zeroOfflineSlot(raw: RawRecord, units: AnalogUnits): void {
  raw.cells = nums(raw, 'cells').map(() => 0);
  raw.temps = nums(raw, 'temps').map(() => units.temperature.offset ?? 0);
  for (const name of ['current', 'voltage', 'remaining', 'full', 'cycles', 'design', 'soc', 'soh']) {
    if (raw[name] !== undefined) raw[name] = 0;
  }
}

const UD_PROBE = compileLayout([...CORE, { name: 'remaining', type: 'u16' }, { name: 'ud', type: 'u8' }]);

/** Cheap check used by dialect auto-detection: the custom-number byte of a single-pack 0x42 block. */
export function analogUdByte(info: Uint8Array): number | undefined {
  try {
    const reader = new ByteReader(info, 2);
    readLayout(reader, UD_PROBE);
    return info[reader.offset - 1];
  } catch {
    return undefined;
  }
}
