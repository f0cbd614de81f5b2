import { englishTexts, type Texts } from './i18n';
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
export function parseVenusConfig(
  config: Partial<VenusConfig>,
  t: Texts = englishTexts,
): { options: ParsedVenusConfig } | { error: string } {
  const num = (text: string | undefined, fallback: number): number =>
    text === undefined || text.trim() === '' ? fallback : Number(text);
  const bus = (config.bus ?? '').trim();
  if (bus && !BUS_ADDRESS.test(bus)) return { error: t('bms-venus.errors.bus', { bus }) };
  const bankId = (config.bankId ?? '').trim();
  if (bankId && !/^[A-Za-z0-9_-]{1,40}$/.test(bankId)) return { error: t('bms-venus.errors.bankId') };
  const instance = num(config.instance, 1);
  if (!Number.isInteger(instance) || instance < 0 || instance > 999) return { error: t('bms-venus.errors.instance') };
  const cellMax = num(config.cellMax, 3.45);
  const cellFloat = num(config.cellFloat, 3.375);
  const cellMin = num(config.cellMin, 2.9);
  // LiFePO4 cells: 3.65 V is the absolute charge limit, 2.5 V the absolute floor.
  if (!(cellMax >= 3.3 && cellMax <= 3.65)) return { error: t('bms-venus.errors.cellMax') };
  if (!(cellFloat >= 3.2 && cellFloat <= cellMax)) return { error: t('bms-venus.errors.cellFloat') };
  if (!(cellMin >= 2.5 && cellMin < cellFloat)) return { error: t('bms-venus.errors.cellMin') };
  const packCharge = num(config.packCharge, 50);
  const packDischarge = num(config.packDischarge, 100);
  if (!(packCharge > 0 && packCharge <= 1000) || !(packDischarge > 0 && packDischarge <= 1000))
    return { error: t('bms-venus.errors.packCurrents') };
  const cap = (text: string | undefined, what: string): number | null | string => {
    if (!text?.trim()) return null;
    const v = Number(text);
    return v >= 0 && v <= 10_000 ? v : t('bms-venus.errors.cap', { setting: t(`bms-venus.setting.${what}`) });
  };
  const maxCharge = cap(config.maxCharge, 'maxCharge');
  const maxDischarge = cap(config.maxDischarge, 'maxDischarge');
  if (typeof maxCharge === 'string') return { error: maxCharge };
  if (typeof maxDischarge === 'string') return { error: maxDischarge };
  const absorption = num(config.absorption, 15);
  if (!(absorption >= 0 && absorption <= 24 * 60)) return { error: t('bms-venus.errors.absorption') };
  const interval = num(config.interval, 5);
  if (!(interval >= 0.5 && interval <= 600)) return { error: t('bms-venus.errors.interval') };
  const lost = num(config.lost, 300);
  if (!(lost >= 30 && lost <= 3600)) return { error: t('bms-venus.errors.lost') };
  const doubtfulDischarge = cap(config.doubtfulDischarge, 'doubtfulDischarge');
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
