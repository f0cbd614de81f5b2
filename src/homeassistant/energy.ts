/** Energy into and out of the bank, in Wh, both only ever growing. */
export interface EnergyTotals {
  readonly chargedWh: number;
  readonly dischargedWh: number;
}

/**
 * Integrates the bank's power over time into two counters, as Home Assistant's Energy dashboard
 * wants them (`total_increasing`: a drop would count as a new meter). A reading holds until the
 * next one, but never longer than `maxGapMs`: across a longer silence (Node-RED stopped, the bank
 * gone) nothing is counted, rather than guessing what flowed.
 */
export class EnergyCounter {
  private charged: number;
  private discharged: number;
  private last: { readonly at: number; readonly powerW: number } | null = null;

  constructor(
    start: EnergyTotals,
    private readonly maxGapMs: number,
  ) {
    this.charged = start.chargedWh;
    this.discharged = start.dischargedWh;
  }

  /** The bank's power now (W, positive while charging; null when unknown). */
  add(powerW: number | null, at: number): void {
    const last = this.last;
    if (last && at > last.at && at - last.at <= this.maxGapMs) {
      const wh = (last.powerW * (at - last.at)) / 3_600_000;
      if (wh > 0) this.charged += wh;
      else this.discharged -= wh;
    }
    this.last = powerW === null || !Number.isFinite(powerW) ? null : { at, powerW };
  }

  get totals(): EnergyTotals {
    return { chargedWh: this.charged, dischargedWh: this.discharged };
  }
}

/** Totals from a stored object; missing, negative or damaged values start at zero. */
export function energyFrom(value: unknown): EnergyTotals {
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const wh = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : 0);
  return { chargedWh: wh(v.chargedWh), dischargedWh: wh(v.dischargedWh) };
}
