import type { BankProtocol, ConnectionOptions } from '../../src/link';
import { isDialect } from '../../src/protocol';
import { englishTexts, type Texts } from './i18n';
import { inRange } from './ranges';

/** The bms-link editor fields, as strings the way the editor stores them. */
export interface LinkConfig {
  port: string;
  baud: string;
  dialect: string;
  mode: string;
  packs: string;
  interval: string;
  timeout: string;
  gap: string;
}

/** Turns the editor's strings into connection options, or says what is wrong with them. */
export function parseLinkConfig(
  config: Partial<LinkConfig>,
  t: Texts = englishTexts,
): { options: ConnectionOptions } | { error: string } {
  const port = (config.port ?? '').trim();
  if (!port) return { error: t('bms-link.errors.noPort') };
  const baud = Number(config.baud ?? 9600);
  if (![1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200].includes(baud))
    return { error: t('bms-link.errors.baud', { baud: config.baud ?? '' }) };
  const dialectText = config.dialect ?? 'auto';
  const dialect: BankProtocol | 'auto' | undefined =
    dialectText === 'auto' || dialectText === 'pace-modbus'
      ? dialectText
      : isDialect(dialectText)
        ? dialectText
        : undefined;
  if (!dialect) return { error: t('bms-link.errors.dialect', { dialect: dialectText }) };
  const modeText = config.mode ?? 'auto';
  const mode = (['auto', 'broadcast', 'relay'] as const).find((m) => m === modeText);
  if (!mode) return { error: t('bms-link.errors.mode', { mode: modeText }) };
  const packsText = (config.packs ?? 'discover').trim() || 'discover';
  let packs: number[] | 'discover' = 'discover';
  if (packsText !== 'discover') {
    packs = packsText.split(/[\s,]+/).map(Number);
    if (packs.some((n) => 'error' in inRange('pack', n)))
      return { error: t('bms-link.errors.packs', { packs: packsText }) };
  }
  const interval = inRange('interval', config.interval ?? '5', t);
  const timeout = inRange('timeout', config.timeout ?? '1000', t);
  const gap = inRange('gap', config.gap ?? '50', t);
  if ('error' in interval) return interval;
  if ('error' in timeout) return timeout;
  if ('error' in gap) return gap;
  return {
    options: {
      port,
      baudRate: baud,
      dialect,
      mode,
      packs,
      intervalMs: interval.value * 1000,
      timeoutMs: timeout.value,
      gapMs: gap.value,
    },
  };
}
