import { runtimeTexts } from '../shared/i18n';
import { isAbsolute, join } from 'node:path';
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import type { BankState } from '../../src/bank';
import { RecordStore, checkRange } from '../../src/record';
import { dataDir } from '../shared/maintenance';
import { statusSetter, whenSettled, type Done, type Send } from '../shared/types';
import { errorMessage } from '../../src/errors';

interface BmsRecordDef extends NodeDef {
  dir: string;
  bankEvery: string;
  packsEvery: string;
  keepDays: string;
  maxMb: string;
  flushEvery: string;
  /** Missing in flows saved before it existed: on. */
  http?: boolean;
}

/** Stores by node id, for the download route (registered once for all nodes). */
const stores = new Map<string, RecordStore>();
/** HTTP apps the download route is on (one per runtime; a test harness makes one per flow). */
const routed = new WeakSet();

/** A number setting within bounds, or the default when empty or out of range. */
const setting = (text: string | undefined, fallback: number, min: number, max: number): number => {
  const n = Number(text);
  return text !== undefined && text !== '' && Number.isFinite(n) && n >= min && n <= max ? n : fallback;
};

const isBankState = (p: unknown): p is BankState =>
  typeof p === 'object' &&
  p !== null &&
  Array.isArray((p as Record<string, unknown>).packs) &&
  Array.isArray((p as Record<string, unknown>).alarms) &&
  typeof (p as Record<string, unknown>).packsOnline === 'number';

export = (RED: NodeAPI): void => {
  const t = runtimeTexts(RED._);
  if (!routed.has(RED.httpNode)) {
    routed.add(RED.httpNode);
    // GET <httpNodeRoot>/lfp-bms/record/<node id>/<bank|packs>.csv?from=YYYY-MM-DD&to=YYYY-MM-DD
    RED.httpNode.get('/lfp-bms/record/:id/:table.csv', (req, res) => {
      const store = stores.get(req.params.id);
      const table = req.params.table === 'packs' ? 'packs' : req.params.table === 'bank' ? 'bank' : null;
      const range = checkRange(req.query.from, req.query.to);
      if (typeof range === 'string') {
        res.status(400).type('text/plain').send(range);
        return;
      }
      if (!store || !table) {
        res.status(404).type('text/plain').send(t('bms-record.errors.noRecord'));
        return;
      }
      res.status(200).type('text/csv; charset=utf-8');
      res.setHeader('Content-Disposition', `attachment; filename="lfp-bms-${table}-${range.from}_${range.to}.csv"`);
      void (async () => {
        try {
          for await (const chunk of store.csv(table, range.from, range.to)) {
            if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
          }
        } catch (err) {
          RED.log.warn(`bms-record: ${t('bms-record.errors.download', { reason: errorMessage(err) })}`);
        }
        res.end();
      })();
    });
  }

  function BmsRecord(this: Node, config: BmsRecordDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = statusSetter(node);
    const dir = config.dir && isAbsolute(config.dir) ? config.dir : join(dataDir(RED), 'record', config.dir || '');
    const store = new RecordStore({
      dir,
      bankEveryMs: setting(config.bankEvery, 60, 5, 3600) * 1000,
      packsEveryMs: setting(config.packsEvery, 300, 5, 86_400) * 1000,
      keepDays: setting(config.keepDays, 62, 1, 3660),
      maxBytes: setting(config.maxMb, 100, 1, 100_000) * 1_000_000,
      flushEveryMs: setting(config.flushEvery, 60, 0, 3600) * 1000,
    });
    const showStatus = (): void => {
      const s = store.stats;
      status(
        s.lastError
          ? { fill: 'red', shape: 'ring', text: t('bms-record.status.cannotWrite') }
          : {
              fill: 'green',
              shape: 'dot',
              text: t('bms-record.status.stored', { days: s.days, mb: (s.bytes / 1_000_000).toFixed(1) }),
            },
      );
    };
    let lastError: string | null = null;
    const reportError = (): void => {
      const error = store.stats.lastError;
      if (error && error !== lastError) node.warn(`bms-record: ${error}`);
      lastError = error;
    };

    let openError: string | undefined;
    const opened = store.open().then(
      () => {
        if (config.http !== false) stores.set(node.id, store);
        showStatus();
        // Charts fed from here get the last day back after a restart.
        node.send([
          { topic: 'trend', payload: store.trend() },
          { topic: 'days', payload: { days: store.days(), stats: store.stats } },
        ]);
      },
      (err: unknown) => {
        // Kept, not thrown: a rejected promise nobody awaits would stop Node-RED.
        openError = t('bms-record.errors.open', { dir, reason: errorMessage(err) });
        status({ fill: 'red', shape: 'ring', text: t('bms-record.status.cannotOpen') });
        node.error(`bms-record: ${openError}`);
      },
    );

    node.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
      const action = (msg as { action?: unknown }).action;
      opened
        .then(async () => {
          if (openError !== undefined) throw new Error(openError);
          if (action === undefined || action === 'record') {
            if (!isBankState(msg.payload)) throw new Error(t('bms-record.errors.payload'));
            const taken = store.add(msg.payload);
            if (taken.bank) {
              const point = store.lastPoint();
              // The day list too: it grows with each sample (once a minute by default).
              send([
                { topic: 'sample', payload: point },
                { topic: 'days', payload: { days: store.days(), stats: store.stats } },
              ]);
            }
          } else if (action === 'trend') {
            const hours = (msg.payload as { hours?: unknown } | null)?.hours;
            send([{ topic: 'trend', payload: store.trend(typeof hours === 'number' ? hours : 24) }, null]);
          } else if (action === 'days') {
            send([null, { topic: 'days', payload: { days: store.days(), stats: store.stats } }]);
          } else if (action === 'flush') {
            await store.flush();
            send([null, { topic: 'days', payload: { days: store.days(), stats: store.stats } }]);
          } else {
            const named = typeof action === 'string' ? JSON.stringify(action.slice(0, 40)) : typeof action;
            throw new Error(t('bms-record.errors.action', { action: named }));
          }
          reportError();
          showStatus();
        })
        .then(() => {
          done();
        })
        .catch((err: unknown) => {
          done(new Error(`bms-record: ${errorMessage(err)}`));
        });
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      if (stores.get(node.id) === store) stores.delete(node.id);
      whenSettled(
        opened.then(() => store.close()),
        done,
      );
    });
  }
  RED.nodes.registerType('bms-record', BmsRecord);
};
