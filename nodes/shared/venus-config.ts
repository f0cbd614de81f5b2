import type { ChargeSettings } from '../../src/bank';

/** The bms-venus editor fields, as strings the way the editor stores them. */
export interface VenusConfig {
  bus: string;
  bankId: string;
  instance: string;
  shadow: boolean;
  packCharge: string;
  packDischarge: string;
  maxCharge: string;
  maxDischarge: string;
  cellMax: string;
  cellFloat: string;
  cellMin: string;
  absorption: string;
  interval: string;
  lost: string;
  doubtfulDischarge: string;
  releaseOnLoss: boolean;
  packServices: boolean;
  productName: string;
}

export interface ParsedVenusConfig {
  readonly busAddress: string;
  readonly bankId: string;
  readonly preferredInstance: number;
  readonly charge: Partial<ChargeSettings>;
  /** Input mode only; with a link its poll interval counts. */
  readonly intervalMs: number;
  readonly lostAfterMs: number;
  readonly releaseOnLoss: boolean;
  readonly packServices: boolean;
  readonly productName: string;
}

const BUS_ADDRESS = /^(unix:(path|socket)=\S+|tcp:host=[^,\s]+,port=\d+)$/;

/** Turns the editor's strings into bridge settings, or says what is wrong with them. */
export function parseVenusConfig(config: Partial<VenusConfig>): { options: ParsedVenusConfig } | { error: string } {
  const num = (text: string | undefined, fallback: number): number =>
    text === undefined || text.trim() === '' ? fallback : Number(text);
  const bus = (config.bus ?? '').trim();
  if (bus && !BUS_ADDRESS.test(bus))
    return { error: `bus address "${bus}" is neither unix:path=… nor tcp:host=…,port=…` };
  const bankId = (config.bankId ?? '').trim();
  if (bankId && !/^[A-Za-z0-9_-]{1,40}$/.test(bankId))
    return { error: 'bank id: letters, digits, _ and - only (at most 40)' };
  const instance = num(config.instance, 1);
  if (!Number.isInteger(instance) || instance < 0 || instance > 999)
    return { error: 'device instance must be a whole number 0..999' };
  const cellMax = num(config.cellMax, 3.45);
  const cellFloat = num(config.cellFloat, 3.375);
  const cellMin = num(config.cellMin, 2.9);
  // LiFePO4 cells: 3.65 V is the absolute charge limit, 2.5 V the absolute floor.
  if (!(cellMax >= 3.3 && cellMax <= 3.65)) return { error: 'charge cell voltage must be 3.30..3.65 V' };
  if (!(cellFloat >= 3.2 && cellFloat <= cellMax))
    return { error: 'float cell voltage must be 3.20 V..the charge cell voltage' };
  if (!(cellMin >= 2.5 && cellMin < cellFloat))
    return { error: 'low cell voltage must be 2.50 V..below the float voltage' };
  const packCharge = num(config.packCharge, 50);
  const packDischarge = num(config.packDischarge, 100);
  if (!(packCharge > 0 && packCharge <= 1000) || !(packDischarge > 0 && packDischarge <= 1000))
    return { error: 'pack currents must be 0..1000 A' };
  const cap = (text: string | undefined, what: string): number | null | string => {
    if (!text?.trim()) return null;
    const v = Number(text);
    return v >= 0 && v <= 10_000 ? v : `${what} must be empty or 0..10000 A`;
  };
  const maxCharge = cap(config.maxCharge, 'bank charge maximum');
  const maxDischarge = cap(config.maxDischarge, 'bank discharge maximum');
  if (typeof maxCharge === 'string') return { error: maxCharge };
  if (typeof maxDischarge === 'string') return { error: maxDischarge };
  const absorption = num(config.absorption, 15);
  if (!(absorption >= 0 && absorption <= 24 * 60)) return { error: 'absorption time must be 0..1440 min' };
  const interval = num(config.interval, 5);
  if (!(interval >= 0.5 && interval <= 600)) return { error: 'update interval must be 0.5..600 s' };
  const lost = num(config.lost, 300);
  if (!(lost >= 30 && lost <= 3600)) return { error: 'BMS-lost timeout must be 30..3600 s' };
  const doubtfulDischarge = cap(config.doubtfulDischarge, 'discharge while the data is doubtful');
  if (typeof doubtfulDischarge === 'string') return { error: doubtfulDischarge };
  return {
    options: {
      busAddress: bus,
      bankId,
      preferredInstance: instance,
      intervalMs: interval * 1000,
      lostAfterMs: lost * 1000,
      releaseOnLoss: config.releaseOnLoss === true,
      packServices: config.packServices === true,
      productName: (config.productName ?? '').trim() || 'LiFePO4 battery bank',
      charge: {
        shadow: config.shadow !== false,
        maxCellVoltage: cellMax,
        floatCellVoltage: cellFloat,
        minCellVoltage: cellMin,
        packChargeCurrent: packCharge,
        packDischargeCurrent: packDischarge,
        maxChargeCurrent: maxCharge,
        maxDischargeCurrent: maxDischarge,
        absorptionSeconds: absorption * 60,
        doubtfulDischargeCurrent: doubtfulDischarge,
      },
    },
  };
}
