import { VenusService, type ServiceState } from '../../src/venus';
import type { ItemSpec } from '../../src/venus/values';

export interface ChargerWrite {
  readonly at: number;
  readonly path: string;
  readonly value: number;
}

const d = (unit: string): ItemSpec => ({ type: 'd', unit, decimals: 2, writable: true });

/** Paths DVCC writes, per kind of charger (docs/venus.md#what-dvcc-does-with-the-limits). */
const WRITTEN: Readonly<Record<ChargerKind, Readonly<Record<string, ItemSpec>>>> = {
  solarcharger: { '/Link/ChargeVoltage': d('V'), '/Link/ChargeCurrent': d('A') },
  vebus: {
    '/BatteryOperationalLimits/MaxChargeVoltage': d('V'),
    '/BatteryOperationalLimits/MaxChargeCurrent': d('A'),
    '/BatteryOperationalLimits/MaxDischargeCurrent': d('A'),
    '/BatteryOperationalLimits/BatteryLowVoltage': d('V'),
  },
};

export type ChargerKind = 'solarcharger' | 'vebus';

/**
 * A charger on the bus that records every limit the GX writes to it, with the test's clock.
 * A solar charger that heard nothing from DVCC for `linkTimeoutMs` after having been steered stops
 * charging on its own (MPPT error #67, "BMS lost"); a Multi keeps the last limits it was given.
 */
export class FakeCharger {
  readonly writes: ChargerWrite[] = [];
  private readonly service: VenusService;

  constructor(
    readonly kind: ChargerKind,
    readonly name: string,
    busAddress: string,
    private readonly clock: () => number,
    /** What a solar charger can deliver on its own. */
    readonly maxCurrent = 100,
    readonly linkTimeoutMs = 60_000,
  ) {
    const specs = new Map<string, ItemSpec>([
      ['/Mgmt/ProcessName', { type: 's' }],
      ['/Mgmt/Connection', { type: 's' }],
      ['/ProductName', { type: 's' }],
      ['/Connected', { type: 'i' }],
      ['/DeviceInstance', { type: 'i' }],
      ...Object.entries(WRITTEN[kind]),
    ]);
    this.service = new VenusService({
      busAddress,
      serviceName: name,
      uniqueId: name.replace(/\W/g, '_'),
      deviceClass: kind,
      preferredInstance: 0,
      specs,
      onWrite: (path, value) => {
        if (typeof value !== 'number') return 1;
        this.writes.push({ at: this.clock(), path, value });
        this.service.tree.set(path, value);
        return 0;
      },
    });
    this.service.update({
      '/Mgmt/ProcessName': 'fake',
      '/Mgmt/Connection': 'test',
      '/ProductName': `fake ${kind}`,
      '/Connected': 1,
    });
  }

  start(): Promise<void> {
    return new Promise((resolve) => {
      const registered = (state: ServiceState): void => {
        if (state.phase !== 'registered') return;
        this.service.off('state', registered);
        resolve();
      };
      this.service.on('state', registered);
      this.service.start();
    });
  }

  stop(): Promise<void> {
    return this.service.stop();
  }

  /** The last value written to `path` (undefined: never written). */
  last(path: string): number | undefined {
    return this.writes.filter((w) => w.path === path).at(-1)?.value;
  }

  /** Every value written to `path` from `since` on. */
  valuesOf(path: string, since = -Infinity): number[] {
    return this.writes.filter((w) => w.path === path && w.at >= since).map((w) => w.value);
  }

  /** What a solar charger would deliver into the battery now (amps): its limit, or nothing once DVCC went quiet. */
  chargeCurrentAt(now: number): number {
    const last = this.writes.at(-1);
    if (!last) return this.maxCurrent;
    if (now - last.at > this.linkTimeoutMs) return 0;
    return Math.min(this.maxCurrent, this.last('/Link/ChargeCurrent') ?? this.maxCurrent);
  }
}
