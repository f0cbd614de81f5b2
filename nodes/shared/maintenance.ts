import { homedir } from 'node:os';
import { join } from 'node:path';
import type { NodeAPI } from 'node-red';
import type { BmsClient } from '../../src/link';
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
): number[] | string {
  if (override === 'all' || (override === undefined && setting?.trim() === 'all')) {
    const known = link?.connection?.readings().map((r) => r.pack) ?? [];
    return known.length ? known : 'no packs known yet for "all": the link has not read the bank';
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
    return 'pack must be an address 1..15, a list of them, or "all"';
  }
  return [...new Set(list as number[])];
}

/** The link's client for a PACE bank; a reason when there is none. */
export async function paceClient(link: BmsLinkConfigNode | null): Promise<BmsClient> {
  if (!link) throw new Error('no bms-link configured');
  if (link.configError) throw new Error(link.configError);
  if (!link.connection) throw new Error('the bms-link has no connection');
  const client = await link.connection.client();
  if (client.dialect !== 'pace')
    throw new Error(`these commands are PACE 0x25 commands; this bank speaks ${client.dialect}`);
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

export const WRITES_OFF = 'writes are off for this bms-link: enable "allow writes" in its settings first';
