import { homedir } from 'node:os';
import { join } from 'node:path';
import type { NodeAPI } from 'node-red';
import type { BmsClient, ModbusClient, ParameterClient } from '../../src/link';
import { englishTexts, type Texts } from './i18n';
import type { BmsLinkConfigNode } from './types';

/** Where this package keeps files (backups, history cursors, Venus state) in the Node-RED user directory. */
export function dataDir(RED: NodeAPI): string {
  return join((RED.settings as { userDir?: string }).userDir ?? join(homedir(), '.node-red'), 'lifepo4-bms');
}

/**
 * Pack addresses from the node's setting (`1`, `1,2,3` or `all`) or `msg.pack` (a number, an array or
 * `"all"`: every pack the link polls); a reason when invalid.
 */
export function packsOf(
  setting: string | undefined,
  override: unknown,
  link: BmsLinkConfigNode | null,
  t: Texts = englishTexts,
): number[] | string {
  if (override === 'all' || (override === undefined && setting?.trim() === 'all')) {
    const known = link?.connection?.readings().map((r) => r.pack) ?? [];
    return known.length ? known : t('bms-link.common.noPacksYet');
  }
  const list =
    override !== undefined
      ? Array.isArray(override)
        ? override
        : [override]
      : (setting ?? '1')
          .split(/[\s,]+/)
          .filter(Boolean)
          .map(Number);
  if (!list.length || !list.every((p) => typeof p === 'number' && Number.isInteger(p) && p >= 1 && p <= 15)) {
    return t('bms-link.common.packs');
  }
  return [...new Set(list as number[])];
}

/** The link's client, whatever the bank speaks; a reason when there is none. */
async function bankClient(link: BmsLinkConfigNode | null, t: Texts): Promise<BmsClient | ModbusClient> {
  if (!link) throw new Error(t('bms-link.common.noLink'));
  if (link.configError) throw new Error(link.configError);
  if (!link.connection) throw new Error(t('bms-link.common.noConnection'));
  return link.connection.client();
}

/** The link's client for a PACE (ASCII 0x25) bank; a reason when there is none. */
export async function paceClient(link: BmsLinkConfigNode | null, t: Texts = englishTexts): Promise<BmsClient> {
  const client = await bankClient(link, t);
  if (client.dialect !== 'pace') throw new Error(t('bms-link.common.notPace', { dialect: client.dialect }));
  return client;
}

/** The link's client for parameter jobs: a PACE bank over the ASCII protocol or PACE Modbus. */
export async function parameterClient(
  link: BmsLinkConfigNode | null,
  t: Texts = englishTexts,
): Promise<ParameterClient> {
  const client = await bankClient(link, t);
  if (client.dialect !== 'pace' && client.dialect !== 'pace-modbus')
    throw new Error(t('bms-link.common.notPace', { dialect: client.dialect }));
  return client;
}

/**
 * A file name from text a pack sends (its serial): letters, digits, `_` and `-` only, never empty,
 * so no serial can reach outside the folder it is meant for.
 */
export function safeFileName(text: string): string {
  const name = text.replace(/[^\w-]/g, '_').slice(0, 64);
  return /[A-Za-z0-9]/.test(name) ? name : `x${name}`;
}

/** Why a write was refused: the link's "allow writes" is off. */
export const WRITES_OFF = 'bms-link.common.writesOff';
