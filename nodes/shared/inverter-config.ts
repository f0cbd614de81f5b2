import type { LimitsSource } from '../../src/inverter/announcer';
import { manufacturerProblem, pylonFamily, type PylonFamily } from '../../src/protocol/pylon-can';
import { englishTexts, type Texts } from './i18n';
import { parseVenusConfig, type VenusConfig } from './venus-config';

/** The bms-inverter editor fields, as strings the way the editor stores them. */
export interface InverterConfig extends Pick<
  VenusConfig,
  | 'packCharge'
  | 'packDischarge'
  | 'maxCharge'
  | 'maxDischarge'
  | 'cellMax'
  | 'cellFloat'
  | 'cellMin'
  | 'absorption'
  | 'doubtfulDischarge'
  | 'interval'
> {
  protocol: string;
  port: string;
  baud: string;
  family: string;
  manufacturer: string;
  limits: string;
  fixedCvl: string;
  fixedCcl: string;
  fixedDcl: string;
  silentAfter: string;
  keepAlive: boolean;
  probe: string;
  address: string;
  currentUnit: string;
  forceChargeSoc: string;
}

export interface ParsedInverterConfig {
  readonly protocol: 'can' | 'rs485';
  readonly port: string;
  readonly baudRate: number;
  readonly family: PylonFamily;
  readonly manufacturer: string;
  readonly limits: LimitsSource;
  readonly silentAfterMs: number;
  readonly requireKeepAlive: boolean;
  readonly probeEveryMs: number;
  readonly address: number;
  readonly systemCurrentUnit: 0.01 | 0.1;
  readonly forceChargeSoc: number | null;
  /** Input mode only; with a link its poll interval counts. */
  readonly intervalMs: number;
}

const num = (text: string | undefined, fallback: number): number =>
  text === undefined || text.trim() === '' ? fallback : Number(text);

/** Turns the editor's strings into sender / responder settings, or says what is wrong with them. */
export function parseInverterConfig(
  config: Partial<InverterConfig>,
  t: Texts = englishTexts,
): { options: ParsedInverterConfig } | { error: string } {
  const protocol = config.protocol ?? 'can';
  if (protocol !== 'can' && protocol !== 'rs485') return { error: t('bms-inverter.errors.protocol') };
  const port = (config.port ?? '').trim();
  if (!port) return { error: t('bms-inverter.errors.port') };
  const baudRate = num(config.baud, 9600);
  if (![1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200].includes(baudRate))
    return { error: t('bms-inverter.errors.baud') };
  const family = pylonFamily(config.family ?? 'pylon');
  if (!family) return { error: t('bms-inverter.errors.family', { family: String(config.family) }) };
  const manufacturer = (config.manufacturer ?? '').trim() || family.defaultName;
  const nameProblem = manufacturerProblem(family, manufacturer);
  if (nameProblem) return { error: nameProblem };
  let limits: LimitsSource;
  if (config.limits === 'fixed') {
    const cvl = num(config.fixedCvl, NaN);
    const ccl = num(config.fixedCcl, NaN);
    const dcl = num(config.fixedDcl, NaN);
    // 16 LiFePO4 cells: 3.65 V each at the very most.
    if (!(cvl >= 40 && cvl <= 58.4)) return { error: t('bms-inverter.errors.fixedCvl') };
    if (!(ccl >= 0 && ccl <= 3000) || !(dcl >= 0 && dcl <= 3000))
      return { error: t('bms-inverter.errors.fixedCurrents') };
    limits = { kind: 'fixed', cvl, ccl, dcl };
  } else {
    const parsed = parseVenusConfig(
      {
        packCharge: config.packCharge,
        packDischarge: config.packDischarge,
        maxCharge: config.maxCharge,
        maxDischarge: config.maxDischarge,
        cellMax: config.cellMax,
        cellFloat: config.cellFloat,
        cellMin: config.cellMin,
        absorption: config.absorption,
        doubtfulDischarge: config.doubtfulDischarge,
      },
      t,
    );
    if ('error' in parsed) return parsed;
    limits = { kind: 'control', settings: { ...parsed.options.charge, shadow: false } };
  }
  const silentAfter = num(config.silentAfter, 60);
  if (!(silentAfter >= 10 && silentAfter <= 3600)) return { error: t('bms-inverter.errors.silentAfter') };
  const probe = num(config.probe, 30);
  if (!(probe >= 0 && probe <= 600)) return { error: t('bms-inverter.errors.probe') };
  const address = num(config.address, 2);
  if (!Number.isInteger(address) || address < 1 || address > 0xfe) return { error: t('bms-inverter.errors.address') };
  const unit = num(config.currentUnit, 0.01);
  if (unit !== 0.01 && unit !== 0.1) return { error: t('bms-inverter.errors.currentUnit') };
  const force = (config.forceChargeSoc ?? '').trim();
  const forceChargeSoc = force === '' ? null : Number(force);
  if (forceChargeSoc !== null && !(forceChargeSoc >= 0 && forceChargeSoc <= 50))
    return { error: t('bms-inverter.errors.forceChargeSoc') };
  const interval = num(config.interval, 5);
  if (!(interval >= 0.5 && interval <= 600)) return { error: t('bms-venus.errors.interval') };
  return {
    options: {
      protocol,
      port,
      baudRate,
      family,
      manufacturer,
      limits,
      silentAfterMs: silentAfter * 1000,
      requireKeepAlive: config.keepAlive !== false,
      probeEveryMs: probe * 1000,
      address,
      systemCurrentUnit: unit,
      forceChargeSoc,
      intervalMs: interval * 1000,
    },
  };
}
