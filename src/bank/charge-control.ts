import type { BankState, PackSummary } from './aggregate';
import { sensorGroups } from './temperatures';
import { round } from '../round';

/** A limit table: input value → fraction of the maximum current, linear between points. */
export type LimitTable = readonly (readonly [at: number, fraction: number])[];

export interface LimitTables {
  readonly chargeCell: LimitTable;
  readonly dischargeCell: LimitTable;
  readonly chargeTemperature: LimitTable;
  readonly dischargeTemperature: LimitTable;
  readonly mosTemperature: LimitTable;
  /** Off (null) by default, as in the reference driver. */
  readonly chargeSoc: LimitTable | null;
  readonly dischargeSoc: LimitTable | null;
}

export interface ChargeSettings {
  /** Per cell: bulk / absorption target, float target, the low end (BatteryLowVoltage). */
  readonly maxCellVoltage: number;
  readonly floatCellVoltage: number;
  readonly minCellVoltage: number;
  readonly absorptionSeconds: number;
  /** Absorption timer runs while every pack's cell spread is at most this… */
  readonly floatSpread: number;
  /** …and restarts when a spread rises above floatSpread + this. */
  readonly floatSpreadDeviation: number;
  /** How far under the bulk target the highest pack may sit and still count as "at voltage". */
  readonly absorptionMargin: number;
  /** Below bulk target − this, an absorption timer is cleared. */
  readonly absorptionResetDrop: number;
  readonly bulkSoc: number;
  readonly bulkSpread: number;
  readonly floatRampVoltsPerSecond: number;
  /** Cell over-voltage limiting of CVL (P-controller). */
  readonly cellOvpControl: boolean;
  readonly cvlRecoveryHoldSeconds: number;
  readonly cvlRecoveryVoltsPerSecond: number;
  /** What one pack may take / give. */
  readonly packChargeCurrent: number;
  readonly packDischargeCurrent: number;
  /** Caps for the whole bank (null: none). */
  readonly maxChargeCurrent: number | null;
  readonly maxDischargeCurrent: number | null;
  readonly tables: LimitTables;
  readonly currentRecoveryHoldSeconds: number;
  readonly currentRecoveryAmpsPerSecond: number;
  /** After 0 A, a limit must come back above this fraction of its maximum before it leaves 0. */
  readonly zeroRecoveryFraction: number;
  /**
   * While the data is doubtful (no fresh pack), discharge stays allowed at the last trusted DCL, at
   * most this (bank, A; null: no further cap). The packs' own protections still guard the cells.
   */
  readonly doubtfulDischargeCurrent: number | null;
  /**
   * Publish only the safety floor (protections, cell-voltage and temperature derating, the BMS's own
   * limits) and leave the charge algorithm's own choices (absorption / float, SOC tables) as text.
   */
  readonly shadow: boolean;
}

export const DEFAULT_LIMIT_TABLES: LimitTables = {
  chargeCell: [
    [3.375, 1],
    [3.4, 0.25],
    [3.425, 0.05],
    [3.45, 0.005],
    [3.5, 0],
  ],
  dischargeCell: [
    [2.8, 0],
    [2.9, 0.005],
    [3.0, 0.05],
    [3.1, 0.25],
    [3.19, 1],
  ],
  chargeTemperature: [
    [0, 0],
    [2, 0.25],
    [5, 0.5],
    [10, 1],
    [40, 1],
    [45, 0.5],
    [50, 0.25],
    [55, 0],
  ],
  dischargeTemperature: [
    [-10, 0],
    [0, 0.25],
    [5, 0.5],
    [10, 1],
    [40, 1],
    [45, 0.5],
    [50, 0.25],
    [55, 0],
  ],
  mosTemperature: [
    [70, 1],
    [80, 0.25],
    [90, 0],
  ],
  chargeSoc: null,
  dischargeSoc: null,
};

export const DEFAULT_CHARGE_SETTINGS: ChargeSettings = {
  maxCellVoltage: 3.45,
  floatCellVoltage: 3.375,
  minCellVoltage: 2.9,
  absorptionSeconds: 900,
  floatSpread: 0.01,
  floatSpreadDeviation: 0.003,
  absorptionMargin: 0.05,
  absorptionResetDrop: 0.5,
  bulkSoc: 80,
  bulkSpread: 0.08,
  floatRampVoltsPerSecond: 0.001,
  cellOvpControl: true,
  cvlRecoveryHoldSeconds: 60,
  cvlRecoveryVoltsPerSecond: 0.001,
  packChargeCurrent: 50,
  packDischargeCurrent: 100,
  maxChargeCurrent: null,
  maxDischargeCurrent: null,
  tables: DEFAULT_LIMIT_TABLES,
  currentRecoveryHoldSeconds: 30,
  currentRecoveryAmpsPerSecond: 5,
  zeroRecoveryFraction: 0.015,
  doubtfulDischargeCurrent: null,
  shadow: false,
};

export type ChargeMode = 'bulk' | 'absorption' | 'float-transition' | 'float';

export interface Limits {
  /** CVL; null = invalid (not a BMS any more). */
  readonly cvl: number | null;
  readonly ccl: number;
  readonly dcl: number;
}

export interface ChargeDecision {
  readonly mode: ChargeMode;
  /** `/Info/ChargeMode` text. */
  readonly modeText: string;
  /** What the controller computed. */
  readonly computed: Limits;
  /** What goes on the bus (differs from `computed` in shadow mode and when blocked). */
  readonly published: Limits;
  readonly chargeLimitation: string;
  readonly dischargeLimitation: string;
  readonly allowToCharge: boolean;
  readonly allowToDischarge: boolean;
  readonly blockingCharge: readonly number[];
  readonly blockingDischarge: readonly number[];
  readonly batteryLowVoltage: number | null;
  readonly cellsPerPack: number | null;
  /** The bulk / absorption target per cell: `/Info/MaxChargeCellVoltage`. */
  readonly maxChargeCellVoltage: number;
  readonly cellOvp: boolean;
  /** Entered float in this step (time for a "full charge" record). */
  readonly reachedFloat: boolean;
}

/** Points in ascending order of input, whatever order a table was written in. */
export function sortTable(table: LimitTable): LimitTable {
  return [...table].sort((a, b) => a[0] - b[0]);
}

/** Linear interpolation over a sorted table (`sortTable`), clamped to the end points. */
export function evaluateTable(points: LimitTable, x: number): number {
  const first = points[0];
  const last = points[points.length - 1];
  if (!first || !last) return 1;
  if (x <= first[0]) return first[1];
  if (x >= last[0]) return last[1];
  // Indexing, not destructuring: this runs for every pack every cycle, mostly before the JIT
  // optimises it, and destructuring there allocates an iterator per point.
  for (let i = 1; i < points.length; i++) {
    const upper = points[i] as readonly [number, number];
    const x1 = upper[0];
    if (x <= x1) {
      const lower = points[i - 1] as readonly [number, number];
      const x0 = lower[0];
      const y0 = lower[1];
      const y1 = upper[1];
      return x1 === x0 ? Math.min(y0, y1) : y0 + ((x - x0) / (x1 - x0)) * (y1 - y0);
    }
  }
  return last[1];
}

interface Candidate {
  readonly amps: number;
  readonly reason: string;
}

const lowest = (candidates: readonly Candidate[]): Candidate => candidates.reduce((a, b) => (b.amps < a.amps ? b : a));

const packName = (pack: number): string => `P${String(pack).padStart(2, '0')}`;

/**
 * Holds a limit after a reduction and ramps it back up, so a limit that flickers around a
 * table point does not make the inverter hunt. Reductions pass at once.
 */
class LimitSmoother {
  private value: number | null = null;
  private reducedAt = -Infinity;
  private lastAt = 0;

  constructor(
    private readonly holdMs: number,
    private readonly rampPerMs: number,
    private readonly zeroFraction: number,
  ) {}

  step(target: number, fullScale: number, now: number): number {
    const dt = Math.max(0, now - this.lastAt);
    this.lastAt = now;
    const previous = this.value;
    if (previous === null || target <= previous) {
      if (previous !== null && target < previous) this.reducedAt = now;
      this.value = target;
      return target;
    }
    if (previous === 0 && target <= fullScale * this.zeroFraction) return 0;
    if (now - this.reducedAt < this.holdMs) return previous;
    this.value = Math.min(target, previous + this.rampPerMs * dt);
    return this.value;
  }

  block(now: number): void {
    this.value = 0;
    this.reducedAt = now;
    this.lastAt = now;
  }
}

interface PackView {
  readonly pack: number;
  readonly cells: readonly number[];
  readonly cellSum: number;
  readonly minCell: number;
  readonly maxCell: number;
  readonly spread: number;
  readonly summary: PackSummary;
}

/**
 * CVL / CCL / DCL for a parallel bank from its packs, stepped once per fresh bank state. Pure
 * apart from its own memory of mode and timers; time comes in as an argument.
 */
export class ChargeController {
  private mode: ChargeMode = 'bulk';
  private absorptionStartedAt: number | null = null;
  private rampFrom = 0;
  private rampStartedAt = 0;
  private cvl: number | null = null;
  private cvlReducedAt = -Infinity;
  private cvlLastAt = 0;
  private ovpRecovery = false;
  private lastCellsPerPack: number | null = null;
  /** What was published from the last fresh data, and the bank voltage then (see `hold`). */
  private trusted: { readonly cvl: number | null; readonly dcl: number; readonly voltage: number | null } | null = null;
  private readonly ccl: LimitSmoother;
  private readonly dcl: LimitSmoother;

  /** The settings' tables, sorted once: they are evaluated for every pack every second. */
  private readonly tables: LimitTables;

  constructor(readonly settings: ChargeSettings = DEFAULT_CHARGE_SETTINGS) {
    const t = settings.tables;
    this.tables = {
      chargeCell: sortTable(t.chargeCell),
      dischargeCell: sortTable(t.dischargeCell),
      chargeTemperature: sortTable(t.chargeTemperature),
      dischargeTemperature: sortTable(t.dischargeTemperature),
      mosTemperature: sortTable(t.mosTemperature),
      chargeSoc: t.chargeSoc && sortTable(t.chargeSoc),
      dischargeSoc: t.dischargeSoc && sortTable(t.dischargeSoc),
    };
    const hold = settings.currentRecoveryHoldSeconds * 1000;
    const rate = settings.currentRecoveryAmpsPerSecond / 1000;
    this.ccl = new LimitSmoother(hold, rate, settings.zeroRecoveryFraction);
    this.dcl = new LimitSmoother(hold, rate, settings.zeroRecoveryFraction);
  }

  get chargeMode(): ChargeMode {
    return this.mode;
  }

  /** Resume a mode kept across a restart (a restart should not re-enter bulk on a full bank). */
  restore(mode: ChargeMode): void {
    this.mode = mode === 'float-transition' ? 'float' : mode;
  }

  /**
   * No fresh data (`lost`: for the "BMS lost" time). Charging stops: CCL 0 (it comes back through
   * hold and ramp), and a CVL no higher than the last trusted CVL or the bank's last trusted voltage,
   * because with "feed-in excess DC-coupled PV" only CVL reaches the solar chargers. Discharge stays
   * allowed at the last trusted DCL (capped by `doubtfulDischargeCurrent`): a glitch on the serial
   * line must not black out the house, and it never passes through 0 on the way back. Once `lost`,
   * CVL is invalid: the service is no BMS any more.
   */
  hold(now: number, reason: string, lost: boolean): ChargeDecision {
    const s = this.settings;
    const trusted = this.trusted;
    this.ccl.block(now);
    const dischargeCap = s.doubtfulDischargeCurrent ?? Infinity;
    const dcl = round(this.dcl.step(Math.min(trusted?.dcl ?? 0, dischargeCap), trusted?.dcl ?? 0, now), 1);
    const safe = trusted && trusted.cvl !== null ? Math.min(trusted.cvl, trusted.voltage ?? trusted.cvl) : null;
    const cvl = lost || safe === null ? null : Math.floor(safe * 100) / 100;
    if (cvl !== null) this.cvl = cvl;
    const cells = this.lastCellsPerPack;
    const limits: Limits = { cvl, ccl: 0, dcl };
    const chargeText = lost ? `BMS lost: ${reason}` : `Charging stopped: ${reason}`;
    return {
      ...this.noData(),
      modeText: chargeText,
      computed: limits,
      published: limits,
      chargeLimitation: chargeText,
      dischargeLimitation:
        dcl > 0 ? `Held at ${dcl.toFixed(1)} A while the data is doubtful: ${reason}` : `No discharge: ${reason}`,
      allowToDischarge: dcl > 0,
      cellsPerPack: cells,
      batteryLowVoltage: cells === null ? null : round(this.settings.minCellVoltage * cells, 3),
    };
  }

  step(bank: BankState, now: number): ChargeDecision {
    const s = this.settings;
    const packs = this.packViews(bank);
    const cellsPerPack = packs.length ? Math.max(...packs.map((p) => p.cells.length)) : null;
    if (cellsPerPack === null || cellsPerPack === 0) return this.noData();
    this.lastCellsPerPack = cellsPerPack;

    const maxV = s.maxCellVoltage * cellsPerPack;
    const floatV = s.floatCellVoltage * cellsPerPack;
    const minV = s.minCellVoltage * cellsPerPack;
    const reachedFloat = this.advanceMode(packs, bank, maxV, floatV, now);

    // CVL: the mode's target, then the cell over-voltage P-controller per pack.
    const base =
      this.mode === 'float'
        ? floatV
        : this.mode === 'float-transition'
          ? Math.max(floatV, this.rampFrom - s.floatRampVoltsPerSecond * ((now - this.rampStartedAt) / 1000))
          : maxV;
    let ovpTarget = Infinity;
    if (s.cellOvpControl) {
      for (const p of packs) {
        const overshoot = p.cells.reduce((sum, v) => sum + Math.max(0, v - s.maxCellVoltage), 0);
        if (overshoot > 0) ovpTarget = Math.min(ovpTarget, p.cellSum - overshoot);
      }
    }
    const ovp = ovpTarget < Infinity;
    const clamp = (v: number): number => Math.min(maxV, Math.max(minV, v));
    // The safety floor shadow mode still publishes: bulk voltage, cell OVP, the BMS's own voltage.
    const bmsVoltage = Math.min(...packs.map((p) => p.summary.limits?.chargeVoltage ?? Infinity));
    const fullCvl = clamp(Math.min(base, ovpTarget));
    const safetyCvl = clamp(Math.min(maxV, ovpTarget, bmsVoltage));
    const cvl = this.smoothCvl(
      s.shadow ? safetyCvl : fullCvl,
      s.shadow ? clamp(Math.min(maxV, bmsVoltage)) : base,
      now,
    );
    if (this.mode === 'float-transition' && fullCvl <= floatV + 1e-9) this.mode = 'float';
    const recovering = !ovp && this.ovpRecovery;

    // CCL / DCL: the lowest fraction of each pack, × packs able to share the current. Shadow mode
    // publishes them without the SOC tables (the algorithm's choice), with every safety source.
    const charge = this.currentLimit(packs, 'charge', !s.shadow);
    const discharge = this.currentLimit(packs, 'discharge', !s.shadow);
    const published: Limits = {
      cvl: round(cvl, 3),
      ccl: round(this.ccl.step(charge.limit.amps, charge.fullScale, now), 1),
      dcl: round(this.dcl.step(discharge.limit.amps, discharge.fullScale, now), 1),
    };
    const full = s.shadow
      ? {
          cvl: round(fullCvl, 3),
          charge: this.currentLimit(packs, 'charge', true),
          discharge: this.currentLimit(packs, 'discharge', true),
        }
      : { cvl: published.cvl, charge, discharge };
    const computed: Limits = s.shadow
      ? { cvl: full.cvl, ccl: round(full.charge.limit.amps, 1), dcl: round(full.discharge.limit.amps, 1) }
      : published;
    this.trusted = { cvl: published.cvl, dcl: published.dcl, voltage: bank.voltage?.mean ?? null };

    const modeText = `${MODE_TEXT[this.mode]}${this.absorptionLeft(now)}${ovp ? ' (Cell OVP)' : recovering ? ' (Cell OVP*)' : ''}`;
    const reasonOf = (limit: Candidate, applied: number): string =>
      applied < limit.amps - 0.05 ? `${limit.reason}, recovering` : limit.reason;
    let texts = {
      mode: modeText,
      charge: reasonOf(charge.limit, published.ccl),
      discharge: reasonOf(discharge.limit, published.dcl),
    };
    if (s.shadow) {
      texts = {
        mode: `Shadow: would be ${modeText}, CVL ${computed.cvl?.toFixed(2) ?? '—'} V`,
        charge: `${texts.charge}; shadow: would be ${computed.ccl.toFixed(1)} A (${full.charge.limit.reason})`,
        discharge: `${texts.discharge}; shadow: would be ${computed.dcl.toFixed(1)} A (${full.discharge.limit.reason})`,
      };
    }
    return {
      mode: this.mode,
      modeText: texts.mode,
      computed,
      published,
      chargeLimitation: texts.charge,
      dischargeLimitation: texts.discharge,
      allowToCharge: published.ccl > 0 && charge.blocking.length < packs.length,
      allowToDischarge: published.dcl > 0 && discharge.blocking.length < packs.length,
      blockingCharge: charge.blocking,
      blockingDischarge: discharge.blocking,
      batteryLowVoltage: round(minV, 3),
      cellsPerPack,
      maxChargeCellVoltage: s.maxCellVoltage,
      cellOvp: ovp,
      reachedFloat,
    };
  }

  private packViews(bank: BankState): PackView[] {
    const views: PackView[] = [];
    for (const summary of bank.packs) {
      const cells = summary.analog?.cellVoltages;
      if (summary.stale || !cells?.length) continue;
      let sum = 0;
      let min = Infinity;
      let max = -Infinity;
      for (const v of cells) {
        sum += v;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      views.push({ pack: summary.pack, cells, summary, cellSum: sum, minCell: min, maxCell: max, spread: max - min });
    }
    return views;
  }

  private advanceMode(packs: readonly PackView[], bank: BankState, maxV: number, floatV: number, now: number): boolean {
    const s = this.settings;
    const spread = Math.max(...packs.map((p) => p.spread));
    const highest = Math.max(...packs.map((p) => p.cellSum));
    const soc = bank.soc ?? 100;
    if (this.mode === 'float' || this.mode === 'float-transition') {
      if (soc < s.bulkSoc || spread >= s.bulkSpread) {
        this.mode = 'bulk';
        this.absorptionStartedAt = null;
      }
      return false;
    }
    const atVoltage = highest >= maxV - s.absorptionMargin;
    if (this.mode === 'bulk') {
      if (atVoltage && spread <= s.floatSpread) {
        this.mode = 'absorption';
        this.absorptionStartedAt = now;
      }
      return false;
    }
    // Absorption.
    if (highest < maxV - s.absorptionResetDrop) {
      this.mode = 'bulk';
      this.absorptionStartedAt = null;
      return false;
    }
    if (spread > s.floatSpread + s.floatSpreadDeviation) this.absorptionStartedAt = now;
    if (this.absorptionStartedAt !== null && now - this.absorptionStartedAt >= s.absorptionSeconds * 1000) {
      this.mode = floatV >= maxV ? 'float' : 'float-transition';
      this.rampFrom = this.cvl ?? maxV;
      this.rampStartedAt = now;
      this.absorptionStartedAt = null;
      return true;
    }
    return false;
  }

  /** Reductions at once; after a cell-OVP reduction, increases wait, then ramp. */
  private smoothCvl(target: number, base: number, now: number): number {
    const s = this.settings;
    const dt = Math.max(0, now - this.cvlLastAt) / 1000;
    this.cvlLastAt = now;
    const previous = this.cvl;
    const limitedByOvp = target < base - 1e-9;
    if (limitedByOvp) {
      this.ovpRecovery = true;
      if (previous === null || target < previous - 1e-9) this.cvlReducedAt = now;
    }
    let next = target;
    if (previous !== null && this.ovpRecovery && target > previous + 1e-9) {
      next =
        now - this.cvlReducedAt < s.cvlRecoveryHoldSeconds * 1000
          ? previous
          : Math.min(target, previous + s.cvlRecoveryVoltsPerSecond * dt);
    }
    if (!limitedByOvp && next >= target - 1e-9) this.ovpRecovery = false;
    this.cvl = next;
    return next;
  }

  private currentLimit(
    packs: readonly PackView[],
    direction: 'charge' | 'discharge',
    withSoc: boolean,
  ): { limit: Candidate; fullScale: number; blocking: number[] } {
    const s = this.settings;
    const t = this.tables;
    const packMax = direction === 'charge' ? s.packChargeCurrent : s.packDischargeCurrent;
    const bankCap = direction === 'charge' ? s.maxChargeCurrent : s.maxDischargeCurrent;
    const blocking: number[] = [];
    const perPack: Candidate[] = [];
    for (const p of packs) {
      const fet = direction === 'charge' ? p.summary.alarms?.chargeMos : p.summary.alarms?.dischargeMos;
      const bms = p.summary.limits;
      const bmsEnabled = bms ? (direction === 'charge' ? bms.chargeEnabled : bms.dischargeEnabled) : true;
      if (fet === false || !bmsEnabled) {
        blocking.push(p.pack);
        continue;
      }
      // The lowest candidate wins; its reason gets the pack's name once, at the end.
      let amps = packMax;
      let reason = 'Pack maximum';
      const consider = (table: LimitTable | null, x: number | undefined | null, why: string): void => {
        if (!table || typeof x !== 'number' || !Number.isFinite(x)) return;
        const candidate = packMax * evaluateTable(table, x);
        if (candidate < amps) {
          amps = candidate;
          reason = why;
        }
      };
      const temps = sensorGroups(p.summary.analog);
      const charge = direction === 'charge';
      consider(charge ? t.chargeCell : t.dischargeCell, charge ? p.maxCell : p.minCell, 'Cell voltage');
      for (const temp of temps.cells)
        consider(charge ? t.chargeTemperature : t.dischargeTemperature, temp.value, 'Temperature');
      if (withSoc) consider(charge ? t.chargeSoc : t.dischargeSoc, p.summary.analog?.soc, 'SOC');
      if (temps.internal.length) {
        let hottest = -Infinity;
        for (const r of temps.internal) hottest = Math.max(hottest, r.value);
        consider(t.mosTemperature, hottest, 'MOS temperature');
      }
      if (bms) {
        // Limits are signed (discharge negative); the table works in magnitudes.
        const bmsAmps = Math.abs(charge ? bms.chargeCurrent : bms.dischargeCurrent);
        if (bmsAmps < amps) {
          amps = bmsAmps;
          reason = 'BMS limit';
        }
      }
      perPack.push({ amps, reason: reason === 'Pack maximum' ? reason : `${reason} ${packName(p.pack)}` });
    }
    const sharing = perPack.length;
    const fullScale = packMax * sharing;
    const capped = (amps: number): number => (bankCap === null ? amps : Math.min(amps, bankCap));
    if (sharing === 0) {
      const reason = packs.length ? `BMS blocks ${direction} (${blocking.map(packName).join(', ')})` : 'No pack data';
      return { limit: { amps: 0, reason }, fullScale: packMax, blocking };
    }
    const worst = lowest(perPack);
    let limit: Candidate = { amps: worst.amps * sharing, reason: worst.reason };
    if (bankCap !== null && bankCap < limit.amps) limit = { amps: bankCap, reason: 'User maximum' };
    if (blocking.length && limit.amps > 0)
      limit = { ...limit, reason: `${limit.reason}; ${blocking.map(packName).join(', ')} blocking` };
    return { limit, fullScale: capped(fullScale), blocking };
  }

  private absorptionLeft(now: number): string {
    if (this.mode !== 'absorption' || this.absorptionStartedAt === null) return '';
    const left = Math.max(0, this.settings.absorptionSeconds - (now - this.absorptionStartedAt) / 1000);
    return ` ${Math.floor(left / 60)}m${String(Math.floor(left % 60)).padStart(2, '0')}s left`;
  }

  private noData(): ChargeDecision {
    return {
      mode: this.mode,
      modeText: 'No pack data',
      computed: { cvl: null, ccl: 0, dcl: 0 },
      published: { cvl: null, ccl: 0, dcl: 0 },
      chargeLimitation: 'No pack data',
      dischargeLimitation: 'No pack data',
      allowToCharge: false,
      allowToDischarge: false,
      blockingCharge: [],
      blockingDischarge: [],
      batteryLowVoltage: null,
      cellsPerPack: null,
      maxChargeCellVoltage: this.settings.maxCellVoltage,
      cellOvp: false,
      reachedFloat: false,
    };
  }
}

const MODE_TEXT: Readonly<Record<ChargeMode, string>> = {
  bulk: 'Bulk',
  absorption: 'Absorption',
  'float-transition': 'Float transition',
  float: 'Float',
};
