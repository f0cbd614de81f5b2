import {
  formatLocalTime,
  reportableState,
  temperatureRoles,
  type Dialect,
  type Fields,
  type PackAlarms,
  type PackAnalog,
} from '../protocol';
import { defaultParameters } from './defaults';
import type { Random } from './random';
import { round } from '../round';

/** LiFePO4 open-circuit voltage per cell against state of charge (at rest, 25 °C). */
const OCV: readonly (readonly [number, number])[] = [
  [0, 2.8],
  [0.05, 3.1],
  [0.1, 3.2],
  [0.2, 3.25],
  [0.4, 3.28],
  [0.6, 3.3],
  [0.8, 3.33],
  [0.95, 3.4],
  [1, 3.5],
];
const CELL_RESISTANCE = 0.0015;
const AMBIENT_DEFAULT = 25;
const TEMPERATURE_TAU_MS = 10 * 60_000;

export interface HistoryRecord extends Fields {
  readonly time: string;
}

export interface SimPackOptions {
  readonly address: number;
  readonly designAh?: number;
  readonly soc?: number;
  readonly cycles?: number;
  readonly cellCount?: number;
  readonly historyRecords?: number;
  readonly random: Random;
  readonly now: number;
}

/**
 * One simulated 16S pack: charge integrates current, cells follow an OCV curve with a small fixed
 * spread and IR drop, temperatures drift with current, and the BMS logic (alarms, latched
 * protections, MOSFETs, balancing) follows its own parameters, so a parameter write changes behaviour.
 */
export class SimPack {
  readonly address: number;
  readonly designAh: number;
  fullAh: number;
  remainingAh: number;
  cycles: number;
  /** Settable: tests give a pack the serial a hostile or broken firmware would send. */
  serial: string;
  readonly firmware = 'P16S100A-SIM-1.00';
  readonly parameters: Record<string, Fields> = defaultParameters();
  inverterProtocol: Fields = { canProtocol: 1, rs485Protocol: 1, manual: false };
  /** Bit 0 buzzer on, bit 3 low current-limit gear, bit 4 limiter off, bit 5 LED alarm off (spec polarity). */
  controlState = 0x01;
  chargeMosForcedOff = false;
  dischargeMosForcedOff = false;
  clockOffsetMs = 0;
  ambient = AMBIENT_DEFAULT;
  /** Faults the test or demo injects (fault codes such as NTC). */
  readonly injectedFaults = new Set<string>();
  /** Extra millivolts per cell on top of the built-in spread (a cell running high, …). */
  readonly cellOffsetsMv: number[];
  readonly temperatures: number[];
  readonly history: HistoryRecord[] = [];
  storageIntervalMin = 10;
  /** Parameter groups this pack answers RTN 09 to, and groups it acknowledges without storing. */
  readonly refusedWrites = new Set<string>();
  readonly ignoredWrites = new Set<string>();

  private demandA = 0;
  private effectiveA = 0;
  private readonly spreadMv: number[];
  private readonly latched = new Set<string>();
  private lastUpdate: number;
  private lastStored: number;
  private dischargedAh = 0;

  constructor(options: SimPackOptions) {
    const { random } = options;
    this.address = options.address;
    this.designAh = options.designAh ?? 100;
    this.fullAh = round(this.designAh * (0.97 + random.next() * 0.03), 2);
    this.remainingAh = this.fullAh * Math.min(1, Math.max(0, options.soc ?? 0.6 + random.next() * 0.2));
    this.cycles = options.cycles ?? random.int(20, 300);
    this.serial = `SIM${String(options.address).padStart(2, '0')}${String(random.int(100000, 999999))}`;
    const cells = options.cellCount ?? 16;
    this.spreadMv = Array.from({ length: cells }, () => random.int(-6, 6));
    this.cellOffsetsMv = new Array<number>(cells).fill(0);
    this.temperatures = Array.from({ length: 6 }, (_, i) => AMBIENT_DEFAULT + (i === 4 ? 2 : 0) + random.next());
    this.lastUpdate = options.now;
    this.lastStored = options.now;
    const records = options.historyRecords ?? 0;
    for (let i = records; i > 0; i--) this.storeRecord(options.now - i * this.storageIntervalMin * 60_000);
  }

  get soc(): number {
    return this.fullAh > 0 ? this.remainingAh / this.fullAh : 0;
  }

  /** What the charger (+) or load (−) asks of this pack; the MOSFETs decide what flows. */
  setDemand(amps: number): void {
    this.demandA = amps;
    this.updateCurrent();
  }

  setSoc(fraction: number): void {
    this.remainingAh = this.fullAh * Math.min(1, Math.max(0, fraction));
  }

  /** Move the simulation to `now`: integrate charge, drift temperatures, store history. */
  advance(now: number): void {
    const dt = now - this.lastUpdate;
    if (dt <= 0) {
      // Thresholds still apply to what changed without time passing (a test moving a cell).
      this.evaluate();
      return;
    }
    this.lastUpdate = now;
    const ah = (this.effectiveA * dt) / 3_600_000;
    this.remainingAh = Math.min(this.fullAh, Math.max(0, this.remainingAh + ah));
    if (ah < 0) {
      this.dischargedAh -= ah;
      while (this.dischargedAh >= this.fullAh) {
        this.dischargedAh -= this.fullAh;
        this.cycles++;
      }
    }
    const k = 1 - Math.exp(-dt / TEMPERATURE_TAU_MS);
    this.temperatures.forEach((t, i) => {
      // Sensors 1–4 sit on cells, 5 on the MOSFETs (a little warmer even at rest), 6 in the air.
      const heat = i === 4 ? 2 + Math.abs(this.effectiveA) * 0.08 : Math.abs(this.effectiveA) * 0.03;
      const target = i === 5 ? this.ambient : this.ambient + heat;
      this.temperatures[i] = t + (target - t) * k;
    });
    this.evaluate();
    // An interval of 0 switches storage off.
    const interval = this.storageIntervalMin * 60_000;
    if (interval <= 0) this.lastStored = now;
    else {
      while (now - this.lastStored >= interval) {
        this.lastStored += interval;
        this.storeRecord(this.lastStored);
      }
    }
  }

  cellVoltages(): number[] {
    const ocv = interpolate(this.soc);
    return this.spreadMv.map((mv, i) =>
      Math.max(
        0,
        Math.round((ocv + this.effectiveA * CELL_RESISTANCE) * 1000 + mv + (this.cellOffsetsMv[i] ?? 0)) / 1000,
      ),
    );
  }

  /**
   * Values exactly as the wire carries them in `dialect` (PACE: mV, 10 mA, 10 mAh, 0.1 °C, and as
   * many tail fields as `paceTailFields` says — without a SOC or SOH byte they are what a decoder
   * computes from the capacities; Pylontech: 100 mA, 1 mAh, SOC computed), so a correct decoder
   * reproduces them to the last digit.
   */
  analog(dialect: Dialect = 'pace', paceTailFields = 2): Omit<PackAnalog, 'pack'> {
    const cellVoltages = this.cellVoltages();
    const voltageMv = Math.round(cellVoltages.reduce((a, b) => a + b, 0) * 1000);
    const temperatures = this.sensorsInOrder(dialect).map((t) => round(t, 1));
    if (dialect === 'pylontech') {
      const remainingMah = Math.round(this.remainingAh * 1000);
      const fullMah = Math.round(this.fullAh * 1000);
      return {
        cellVoltages,
        temperatures,
        current: round(this.effectiveA, 1),
        voltage: voltageMv / 1000,
        remainingAh: remainingMah / 1000,
        fullAh: fullMah / 1000,
        designAh: null,
        cycles: this.cycles,
        soc: percentOf(remainingMah, fullMah),
        soh: null,
        online: true,
        temperatureRoles: temperatureRoles(dialect, temperatures.length),
      };
    }
    const remaining = Math.round(this.remainingAh * 100);
    const full = Math.round(this.fullAh * 100);
    const design = Math.round(this.designAh * 100);
    // Tail fields in order: design, SOC, cumulative charge, cumulative discharge, SOH, …
    const soh = Math.min(100, percentOf(full, design) ?? 0);
    return {
      cellVoltages,
      temperatures,
      current: round(this.effectiveA, 2),
      voltage: voltageMv / 1000,
      remainingAh: remaining / 100,
      fullAh: full / 100,
      designAh: paceTailFields >= 1 ? design / 100 : null,
      cycles: this.cycles,
      soc: paceTailFields >= 2 ? Math.round(this.soc * 100) : percentOf(remaining, full),
      soh: paceTailFields >= 5 ? Math.round(soh) : paceTailFields >= 1 ? soh : null,
      online: true,
      temperatureRoles: temperatureRoles(dialect, temperatures.length),
    };
  }

  /**
   * The six sensors (cells 1–4, MOSFET, ambient) in the order `dialect` sends them; Pylontech's
   * BMS-board sensor reads the MOSFET's neighbourhood.
   */
  private sensorsInOrder(dialect: Dialect): number[] {
    const [c1 = 25, c2 = 25, c3 = 25, c4 = 25, mosfet = 25, ambient = 25] = this.temperatures;
    const cells = [c1, c2, c3, c4];
    let next = 0;
    return temperatureRoles(dialect, this.temperatures.length).map((role) =>
      role === 'cell' ? (cells[next++] ?? c1) : role === 'ambient' ? ambient : mosfet,
    );
  }

  /** The 0x44 state as `dialect` reports it (what it has no bit for is null). */
  alarms(dialect: Dialect = 'pace'): Omit<PackAlarms, 'pack'> {
    const status = this.status();
    const control = this.controlState;
    return {
      balancingCells: this.balancingCells(),
      alarms: [...status.alarms].sort(),
      protections: [...status.protections].sort(),
      faults: [...status.faults].sort(),
      chargeMos: this.chargeAllowed(),
      dischargeMos: this.dischargeAllowed(),
      state: reportableState(dialect, {
        mode: this.effectiveA > 0.5 ? 'charging' : this.effectiveA < -0.5 ? 'discharging' : 'standby',
        limiterActive: false,
        limiterEnabled: (control & 0x10) === 0,
        limiterGear: (control & 0x08) !== 0 ? 'low' : 'high',
        heater: false,
        chargerConnected: this.effectiveA > 0,
        buzzer: (control & 0x01) !== 0,
        ledAlarm: (control & 0x20) === 0,
      }),
    };
  }

  /** PACE instruction state: b1 charge MOS, b2 discharge MOS, b3 discharging, b5 charger present. */
  instructionState(): number {
    return (
      (this.chargeAllowed() ? 0x02 : 0) |
      (this.dischargeAllowed() ? 0x04 : 0) |
      (this.effectiveA < 0 ? 0x08 : 0) |
      (this.effectiveA > 0 ? 0x20 : 0)
    );
  }

  chargeAllowed(): boolean {
    return (
      !this.chargeMosForcedOff && !['OVP', 'TOVP', 'COCP', 'COTP', 'CUTP', 'MOSOT'].some((c) => this.latched.has(c))
    );
  }

  dischargeAllowed(): boolean {
    return (
      !this.dischargeMosForcedOff &&
      !['UVP', 'TUVP', 'DOCP', 'DOTP', 'DUTP', 'CP', 'MOSOT'].some((c) => this.latched.has(c))
    );
  }

  /** 0x9A / 0x9B. A MOSFET is not switched off while current flows through it (docs/pitfalls.md#p-31). */
  switchMos(which: 'charge' | 'discharge', on: boolean): 'ok' | 'refused' {
    if (!on) {
      const flowing = which === 'charge' ? this.effectiveA > 0.5 : this.effectiveA < -0.5;
      const otherForcedOff = which === 'charge' ? this.dischargeMosForcedOff : this.chargeMosForcedOff;
      if (flowing || otherForcedOff) return 'refused';
    }
    if (which === 'charge') this.chargeMosForcedOff = !on;
    else this.dischargeMosForcedOff = !on;
    this.updateCurrent();
    return 'ok';
  }

  /** 0x99 switch codes (docs/protocol.md#switches), spec polarity. */
  switchControl(code: number): boolean {
    const bits: Record<number, [number, boolean]> = {
      0x06: [5, false],
      0x07: [5, true],
      0x08: [3, false],
      0x09: [3, true],
      0x0a: [4, false],
      0x0b: [4, true],
      0x0c: [0, false],
      0x0d: [0, true],
    };
    const entry = bits[code];
    if (!entry) return code >= 0x02 && code <= 0x12;
    const [bit, set] = entry;
    this.controlState = set ? this.controlState | (1 << bit) : this.controlState & ~(1 << bit);
    return true;
  }

  /** Store a group as written; discharge over-current is written positive and reads back negative. */
  writeParameters(group: string, values: Fields): void {
    const stored = { ...values };
    if (group === 'dischargeOverCurrent1') {
      stored.alarm = -Math.abs(Number(values.alarm));
      stored.protect = -Math.abs(Number(values.protect));
    }
    this.parameters[group] = stored;
    this.evaluate();
  }

  private updateCurrent(): void {
    const d = this.demandA;
    this.effectiveA = d > 0 ? (this.chargeAllowed() ? d : 0) : d < 0 ? (this.dischargeAllowed() ? d : 0) : 0;
  }

  private param(group: string, field: string): number {
    const value = this.parameters[group]?.[field];
    return typeof value === 'number' ? value : NaN;
  }

  private enabled(group: string): boolean {
    return this.parameters[group]?.enabled !== false;
  }

  /** Latch protections when a threshold is crossed and release them at their release value. */
  private evaluate(): void {
    const cells = this.cellVoltages();
    const maxCell = Math.max(...cells);
    const minCell = Math.min(...cells);
    const pack = cells.reduce((a, b) => a + b, 0);
    const cellTemps = this.temperatures.slice(0, 4);
    const hot = Math.max(...cellTemps);
    const cold = Math.min(...cellTemps);
    const charging = this.demandA > 0;
    const discharging = this.demandA < 0;
    const latch = (code: string, trip: boolean, release: boolean): void => {
      if (trip) this.latched.add(code);
      else if (release) this.latched.delete(code);
    };
    const high = (group: string, value: number, code: string, protect = 'protect', rel = 'release'): void => {
      if (!this.enabled(group)) return void this.latched.delete(code);
      latch(code, value >= this.param(group, protect), value <= this.param(group, rel));
    };
    const low = (group: string, value: number, code: string, protect = 'protect', rel = 'release'): void => {
      if (!this.enabled(group)) return void this.latched.delete(code);
      latch(code, value <= this.param(group, protect), value >= this.param(group, rel));
    };
    high('cellOverVoltage', maxCell, 'OVP');
    low('cellUnderVoltage', minCell, 'UVP');
    high('packOverVoltage', pack, 'TOVP');
    low('packUnderVoltage', pack, 'TUVP');
    latch(
      'COCP',
      this.enabled('chargeOverCurrent') && this.demandA >= this.param('chargeOverCurrent', 'protect'),
      this.demandA < this.param('chargeOverCurrent', 'alarm'),
    );
    latch(
      'DOCP',
      this.enabled('dischargeOverCurrent1') &&
        -this.demandA >= Math.abs(this.param('dischargeOverCurrent1', 'protect')),
      -this.demandA < Math.abs(this.param('dischargeOverCurrent1', 'alarm')),
    );
    if (charging || this.latched.has('COTP'))
      high('cellHighTemperature', hot, 'COTP', 'chargeProtect', 'chargeRelease');
    if (discharging || this.latched.has('DOTP'))
      high('cellHighTemperature', hot, 'DOTP', 'dischargeProtect', 'dischargeRelease');
    if (charging || this.latched.has('CUTP')) low('cellLowTemperature', cold, 'CUTP', 'chargeProtect', 'chargeRelease');
    if (discharging || this.latched.has('DUTP'))
      low('cellLowTemperature', cold, 'DUTP', 'dischargeProtect', 'dischargeRelease');
    high('mosHighTemperature', this.temperatures[4] ?? 25, 'MOSOT');
    high('ambientTemperature', this.temperatures[5] ?? 25, 'EOT', 'highProtect', 'highRelease');
    low('ambientTemperature', this.temperatures[5] ?? 25, 'EUT', 'lowProtect', 'lowRelease');
    this.updateCurrent();
  }

  private status(): { alarms: Set<string>; protections: Set<string>; faults: Set<string> } {
    const cells = this.cellVoltages();
    const maxCell = Math.max(...cells);
    const minCell = Math.min(...cells);
    const pack = cells.reduce((a, b) => a + b, 0);
    const hot = Math.max(...this.temperatures.slice(0, 4));
    const cold = Math.min(...this.temperatures.slice(0, 4));
    const alarms = new Set<string>();
    const on = (code: string, when: boolean): void => {
      if (when) alarms.add(code);
    };
    const p = (g: string, f: string): number => this.param(g, f);
    on('OV', this.enabled('cellOverVoltage') && maxCell >= p('cellOverVoltage', 'alarm'));
    on('UV', this.enabled('cellUnderVoltage') && minCell <= p('cellUnderVoltage', 'alarm'));
    on('TOV', this.enabled('packOverVoltage') && pack >= p('packOverVoltage', 'alarm'));
    on('TUV', this.enabled('packUnderVoltage') && pack <= p('packUnderVoltage', 'alarm'));
    on('COC', this.enabled('chargeOverCurrent') && this.demandA >= p('chargeOverCurrent', 'alarm'));
    on('DOC', this.enabled('dischargeOverCurrent1') && -this.demandA >= Math.abs(p('dischargeOverCurrent1', 'alarm')));
    on('COT', this.demandA > 0 && hot >= p('cellHighTemperature', 'chargeAlarm'));
    on('DOT', this.demandA < 0 && hot >= p('cellHighTemperature', 'dischargeAlarm'));
    on('CUT', this.demandA > 0 && cold <= p('cellLowTemperature', 'chargeAlarm'));
    on('DUT', this.demandA < 0 && cold <= p('cellLowTemperature', 'dischargeAlarm'));
    on('MOSOT', (this.temperatures[4] ?? 25) >= p('mosHighTemperature', 'alarm'));
    on('EOT', (this.temperatures[5] ?? 25) >= p('ambientTemperature', 'highAlarm'));
    on('EUT', (this.temperatures[5] ?? 25) <= p('ambientTemperature', 'lowAlarm'));
    on('USOC', this.soc * 100 <= p('fullCharge', 'lowSocAlarm'));
    const protections = new Set(this.latched);
    if (this.remainingAh >= this.fullAh - 1e-9) protections.add('FULLY');
    return { alarms, protections, faults: new Set(this.injectedFaults) };
  }

  private balancingCells(): number[] {
    const cells = this.cellVoltages();
    const min = Math.min(...cells);
    const start = this.param('balancing', 'startVoltage');
    const delta = this.param('balancing', 'deltaVoltage');
    return cells.flatMap((v, i) => (v >= start && v - min >= delta ? [i + 1] : []));
  }

  /** History records are newest first; at most 500 are kept, like the BMS. */
  private storeRecord(at: number): void {
    const status = this.status();
    const analog = this.analog();
    this.history.unshift({
      time: formatLocalTime(new Date(at + this.clockOffsetMs)),
      cellVoltages: analog.cellVoltages,
      temperatures: analog.temperatures,
      current: analog.current,
      voltage: analog.voltage,
      remainingAh: analog.remainingAh,
      fullAh: analog.fullAh,
      cycles: analog.cycles,
      alarms: [...status.alarms].sort(),
      protections: [...status.protections].sort(),
      faults: [...status.faults].sort(),
      chargeMos: this.chargeAllowed(),
      dischargeMos: this.dischargeAllowed(),
      powerOn: false,
    });
    if (this.history.length > 500) this.history.length = 500;
  }
}

function interpolate(soc: number): number {
  const s = Math.min(1, Math.max(0, soc));
  for (let i = 1; i < OCV.length; i++) {
    const [s1, v1] = OCV[i] as readonly [number, number];
    const [s0, v0] = OCV[i - 1] as readonly [number, number];
    if (s <= s1) return v0 + ((v1 - v0) * (s - s0)) / (s1 - s0);
  }
  return 3.5;
}

/** The decoder's rule: exact ratio of raw counts at 0.1 %, halves up. */
function percentOf(a: number, b: number): number | null {
  return b > 0 ? Math.round((a * 1000) / b) / 10 : null;
}
