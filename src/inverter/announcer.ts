import {
  ChargeController,
  DEFAULT_CHARGE_SETTINGS,
  FreshnessGuard,
  aggregateBank,
  agedInputs,
  type BankState,
  type ChargeDecision,
  type ChargeSettings,
  type Freshness,
  type HeldInput,
  type PackInput,
} from '../bank';
import { pylonValues, type InverterIdentity, type InverterLimits } from '../bank/inverter-view';
import type { PylonValues } from '../protocol/pylon-can';

/** Charge control (the same as bms-venus) or fixed caps, each still zeroed by protections and doubtful data. */
export type LimitsSource =
  | { readonly kind: 'control'; readonly settings?: Partial<ChargeSettings> }
  | { readonly kind: 'fixed'; readonly cvl: number; readonly ccl: number; readonly dcl: number };

export interface AnnouncerOptions {
  readonly identity: InverterIdentity;
  readonly limits: LimitsSource;
  readonly pollIntervalMs: number;
  /** A pack is stale after this many poll intervals without data (default 3). */
  readonly staleCycles?: number;
  /**
   * With no fresh pack the inverter is told to stop charging (CCL 0, charge enable off) while
   * discharge is held; after this long without fresh data nothing is announced at all.
   */
  readonly silentAfterMs?: number;
}

export const DEFAULT_SILENT_AFTER_MS = 60_000;

/** What to tell the inverter now. `bank` is the bank the values describe (the last fresh one at stage 2). */
export interface Announcement {
  readonly freshness: Freshness;
  readonly bank: BankState | null;
  /** Null: nothing to announce (no data yet, or silent after `silentAfterMs`). */
  readonly values: PylonValues | null;
  readonly packsOnline: number;
  readonly packsExpected: number;
}

/**
 * The bank as an inverter should see it, decided once per period (docs/inverter.md#safety): values
 * from fresh packs only; with no fresh pack, the last trusted values with charging stopped (CCL 0,
 * charge enable off) and discharge held within the last trusted limit; after `silentAfterMs`
 * without fresh data, nothing. Shared by the CAN sender and the RS485 responder.
 */
export class InverterAnnouncer {
  private readonly inputs = new Map<number, HeldInput>();
  private readonly guard: FreshnessGuard;
  private readonly controller: ChargeController;
  private lastInputAt: number | null = null;
  /** The last values and bank from fresh data: what stage 2 holds, with charging stopped. */
  private trusted: { readonly values: PylonValues; readonly bank: BankState } | null = null;

  constructor(private readonly options: AnnouncerOptions) {
    this.guard = new FreshnessGuard({
      pollIntervalMs: options.pollIntervalMs,
      staleCycles: options.staleCycles ?? 3,
      lostAfterMs: options.silentAfterMs ?? DEFAULT_SILENT_AFTER_MS,
    });
    this.controller = new ChargeController({
      ...DEFAULT_CHARGE_SETTINGS,
      ...(options.limits.kind === 'control' ? options.limits.settings : {}),
    });
  }

  /** Readings of some or all packs (bms-link cycles, bms-pack messages). */
  feed(packs: readonly PackInput[], at: number): void {
    for (const input of packs) this.inputs.set(input.pack, { input, at });
    this.lastInputAt = at;
  }

  /** Steps the charge control: once per period. */
  assess(now: number): Announcement {
    const aged = agedInputs(this.inputs.values(), now);
    const bank = this.lastInputAt === null ? null : aggregateBank(aged, { staleAfterMs: this.guard.staleAfterMs });
    const freshness = this.guard.assess(bank, now);
    const counts = { packsOnline: bank?.packsOnline ?? 0, packsExpected: bank?.packsExpected ?? 0 };
    if (!bank || freshness.stage === 3) return { freshness, bank, values: null, ...counts };
    if (freshness.stage === 2) {
      const decision = this.controller.hold(now, freshness.reason, false);
      const held = this.trusted;
      if (!held) return { freshness, bank, values: null, ...counts };
      const v = held.values;
      return {
        freshness,
        bank: held.bank,
        values: {
          ...v,
          chargeVoltage: Math.min(v.chargeVoltage, decision.published.cvl ?? v.chargeVoltage),
          chargeCurrent: 0,
          chargeEnable: false,
          forceCharge1: false,
          forceCharge2: false,
          dischargeCurrent: Math.min(v.dischargeCurrent, decision.published.dcl),
          dischargeEnable: v.dischargeEnable && decision.published.dcl > 0,
          warning: { ...v.warning, systemError: true },
        },
        ...counts,
      };
    }
    const limits = this.limitsFor(bank, this.controller.step(bank, now));
    const values = limits && pylonValues(bank, limits, this.options.identity);
    if (values) this.trusted = { values, bank };
    return { freshness, bank, values, ...counts };
  }

  private limitsFor(bank: BankState, decision: ChargeDecision): InverterLimits | null {
    const cells = decision.cellsPerPack;
    if (cells === null) return null;
    const source = this.options.limits;
    const common = {
      dischargeVoltage: decision.batteryLowVoltage ?? this.controller.settings.minCellVoltage * cells,
      blockingCharge: decision.blockingCharge.length,
      blockingDischarge: decision.blockingDischarge.length,
    };
    if (source.kind === 'fixed') {
      // Fixed caps, still zero wherever the charge control allows none (a BMS blocking, cells at
      // their limit, a temperature out of range, the recovery hold after doubtful data).
      return {
        ...common,
        limits: { cvl: source.cvl, ccl: source.ccl, dcl: source.dcl },
        allowToCharge: decision.allowToCharge && bank.packsOnline > decision.blockingCharge.length,
        allowToDischarge: decision.allowToDischarge && bank.packsOnline > decision.blockingDischarge.length,
      };
    }
    const { cvl, ccl, dcl } = decision.published;
    if (cvl === null) return null;
    return {
      ...common,
      limits: { cvl, ccl, dcl },
      allowToCharge: decision.allowToCharge,
      allowToDischarge: decision.allowToDischarge,
    };
  }
}
