import { idPart, topicRootError, type PublisherOptions } from '../../src/homeassistant';
import { englishTexts, type Texts } from './i18n';

/** The bms-mqtt editor's fields. */
export interface MqttConfig {
  source: string;
  link: string;
  prefix: string;
  base: string;
  bankId: string;
  bankName: string;
  manufacturer: string;
  cells: boolean;
  interval: string;
  stale: string;
  bridge: string;
}

/** The editor's strings as publisher options, or what is wrong with them. */
export function parseMqttConfig(
  config: Partial<MqttConfig>,
  fallbackId: string,
  linkStaleMs?: number,
  t: Texts = englishTexts,
): { options: PublisherOptions } | { error: string } {
  const prefix = (config.prefix ?? '').trim() || 'homeassistant';
  const base = (config.base ?? '').trim() || 'lifepo4-bms';
  const bridge = (config.bridge ?? '').trim();
  for (const [what, topic] of [
    ['prefix', prefix],
    ['base', base],
    ['bridge', bridge],
  ] as const) {
    if (what === 'bridge' && !topic) continue;
    const problem = topicRootError(topic);
    if (problem) return { error: t('bms-mqtt.errors.topic', { setting: t(`bms-mqtt.setting.${what}`), problem }) };
  }
  const interval = Number(config.interval || 10);
  if (!Number.isFinite(interval) || interval < 1 || interval > 3600) return { error: t('bms-mqtt.errors.interval') };
  const stale = Number(config.stale || 30);
  if (!Number.isFinite(stale) || stale < 5 || stale > 86_400) return { error: t('bms-mqtt.errors.stale') };
  const bankId = (config.bankId ?? '').trim();
  if (bankId && idPart(bankId) !== bankId) return { error: t('bms-mqtt.errors.bankId') };
  return {
    options: {
      prefix,
      base,
      ...(bridge ? { bridgeTopic: bridge } : {}),
      ...(bankId ? { bankId } : {}),
      fallbackId,
      bankName: (config.bankName ?? '').trim() || 'Battery bank',
      ...(config.manufacturer?.trim() ? { manufacturer: config.manufacturer.trim() } : {}),
      cells: config.cells === true,
      intervalMs: interval * 1000,
      staleAfterMs: Math.max(stale * 1000, linkStaleMs ?? 0),
    },
  };
}
