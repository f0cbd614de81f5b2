import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import {
  asError,
  EMPTY_CURSOR,
  clearHistory,
  downloadHistory,
  historyToCsv,
  readSerial,
  readStorageInterval,
  setStorageInterval,
  type BmsClient,
  type HistoryCursor,
} from '../../src/link';
import { runtimeTexts } from '../shared/i18n';
import { WRITES_OFF, dataDir, packsOf, paceClient, safeFileName } from '../shared/maintenance';
import { whenSettled, type BmsLinkConfigNode, type Done, type Send } from '../shared/types';

interface BmsHistoryDef extends NodeDef {
  link: string;
  pack?: string;
  format?: string;
  topic?: string;
}

type HistoryMsg = NodeMessageInFlow & { action?: unknown; confirm?: unknown; pack?: unknown };

function loadCursor(file: string): HistoryCursor {
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as Partial<HistoryCursor>;
    if (Array.isArray(value.times) && value.times.every((t) => typeof t === 'string'))
      return { times: value.times, complete: value.complete === true };
  } catch {
    // No download yet (or a damaged file): start from the newest record.
  }
  return EMPTY_CURSOR;
}

/** Where a pack's download state lives: named by its serial, so a re-cabled pack keeps it. */
async function cursorFile(client: BmsClient, dir: string, address: number): Promise<{ serial: string; file: string }> {
  const serial = (await readSerial(client, address)) ?? `pack${String(address)}`;
  return { serial, file: join(dir, `${safeFileName(serial)}.json`) };
}

export = (RED: NodeAPI): void => {
  const t = runtimeTexts(RED._);
  function BmsHistory(this: Node, config: BmsHistoryDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const link = RED.nodes.getNode(config.link) as BmsLinkConfigNode | null;
    const topic = config.topic || 'bms/history';
    const dir = join(dataDir(RED), 'history');
    const stop = new AbortController();
    let busy = false;
    if (link?.connection) link.register(node);

    async function download(
      client: BmsClient,
      pack: number,
      msg: HistoryMsg,
      send: Send,
      fresh: boolean,
    ): Promise<void> {
      const { serial, file } = await cursorFile(client, dir, pack);
      const cursor = fresh ? EMPTY_CURSOR : loadCursor(file);
      let shown = 0;
      const result = await downloadHistory(client, {
        address: pack,
        cursor,
        signal: stop.signal,
        onProgress: ({ done }) => {
          node.status({ fill: 'blue', shape: 'ring', text: t('bms-history.status.progress', { pack, done }) });
          if (done - shown >= 10 || done === 1) {
            shown = done;
            send([null, { topic, pack, payload: { done } }]);
          }
        },
      });
      // Kept even when the download stopped early: a resume continues from here without repeats.
      mkdirSync(dir, { recursive: true });
      writeFileSync(file, `${JSON.stringify(result.cursor)}\n`);
      send([null, { topic, pack, payload: { done: result.records.length, total: result.records.length } }]);
      const records = config.format === 'csv' ? historyToCsv(result.records) : result.records;
      send([
        {
          ...msg,
          topic,
          pack,
          serial,
          complete: result.cursor.complete,
          count: result.records.length,
          payload: records,
        },
        null,
      ]);
      node.status({
        fill: result.error ? 'yellow' : 'green',
        shape: 'dot',
        text: t('bms-history.status.downloaded', { pack, records: result.records.length }),
      });
      if (result.error)
        throw new Error(
          t('bms-history.errors.stopped', { pack, records: result.records.length, reason: result.error }),
        );
    }

    async function run(client: BmsClient, action: string, packs: number[], msg: HistoryMsg, send: Send): Promise<void> {
      for (const pack of packs) {
        if (action === 'download' || action === 'redownload')
          await download(client, pack, msg, send, action === 'redownload');
        else if (action === 'readInterval') {
          send([{ ...msg, topic, pack, payload: { intervalMinutes: await readStorageInterval(client, pack) } }, null]);
        } else if (action === 'setInterval') {
          const minutes = await setStorageInterval(client, pack, Number(msg.payload)).catch((err: unknown) => {
            throw new Error(t('bms-history.errors.pack', { pack, reason: asError(err).message }));
          });
          send([{ ...msg, topic, pack, payload: { intervalMinutes: minutes } }, null]);
        } else {
          await clearHistory(client, pack);
          const { file } = await cursorFile(client, dir, pack);
          mkdirSync(dir, { recursive: true });
          writeFileSync(file, `${JSON.stringify(EMPTY_CURSOR)}\n`);
          send([{ ...msg, topic, pack, payload: { cleared: true } }, null]);
        }
      }
    }

    node.on('input', (msg: HistoryMsg, send: Send, done: Done) => {
      const action = typeof msg.action === 'string' ? msg.action : 'download';
      const packs = packsOf(config.pack, msg.pack, link, t);
      const fail = (text: string): void => {
        done(new Error(`bms-history: ${text}`));
      };
      if (!['download', 'redownload', 'clear', 'readInterval', 'setInterval'].includes(action)) {
        fail(t('bms-history.errors.action', { action }));
        return;
      }
      if (typeof packs === 'string') {
        fail(packs);
        return;
      }
      if ((action === 'clear' || action === 'setInterval') && !link?.allowWrites) {
        fail(t(WRITES_OFF));
        return;
      }
      if (action === 'clear' && msg.confirm !== true) {
        fail(t('bms-history.errors.confirmClear'));
        return;
      }
      if (
        action === 'setInterval' &&
        !(typeof msg.payload === 'number' && Number.isInteger(msg.payload) && msg.payload >= 0 && msg.payload <= 120)
      ) {
        fail(t('bms-history.errors.interval'));
        return;
      }
      if (busy) {
        fail(t('bms-history.errors.busy'));
        return;
      }
      busy = true;
      paceClient(link, t)
        .then((client) => run(client, action, packs, msg, send))
        .then(() => {
          busy = false;
          done();
        })
        .catch((err: unknown) => {
          busy = false;
          node.status({ fill: 'red', shape: 'ring', text: t('bms-history.status.failed') });
          fail(asError(err).message);
        });
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      stop.abort();
      whenSettled(link ? link.deregister(node) : Promise.resolve(), done);
    });
  }
  RED.nodes.registerType('bms-history', BmsHistory);
};
