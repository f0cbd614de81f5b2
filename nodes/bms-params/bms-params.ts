import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import {
  asError,
  ParameterJobError,
  runParameterJob,
  writeIdentity,
  type AuditRecord,
  type IdentityChange,
  type PackOutcome,
  type ParameterJob,
} from '../../src/link';
import { runtimeTexts, type Texts } from '../shared/i18n';
import { WRITES_OFF, dataDir, packsOf, parameterClient, safeFileName } from '../shared/maintenance';
import { whenSettled, type BmsLinkConfigNode, type Done, type Send } from '../shared/types';

interface BmsParamsDef extends NodeDef {
  link: string;
  pack?: string;
  mode?: string;
  rating?: string;
  topic?: string;
}

type BmsParamsNode = Node<{ password: unknown }>;

const ACTIONS: Readonly<Record<string, ParameterJob['action']>> = {
  read: 'read',
  write: 'write',
  import: 'write',
  rollback: 'write',
  restoreDefaults: 'restoreDefaults',
};

function summary(outcomes: readonly PackOutcome[], t: Texts): string {
  const last = outcomes[outcomes.length - 1];
  if (!last) return t('bms-params.status.nothing');
  if (last.action === 'read') return t('bms-params.status.read', { groups: Object.keys(last.parameters).length });
  if (last.dryRun)
    return t('bms-params.status.dryRun', { changes: outcomes.reduce((n, o) => n + (o.plan?.changes.length ?? 0), 0) });
  return last.action === 'restoreDefaults'
    ? t('bms-params.status.defaults')
    : t('bms-params.status.applied', { groups: outcomes.reduce((n, o) => n + (o.result?.written.length ?? 0), 0) });
}

export = (RED: NodeAPI): void => {
  const t = runtimeTexts(RED._);
  function BmsParams(this: BmsParamsNode, config: BmsParamsDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const link = RED.nodes.getNode(config.link) as BmsLinkConfigNode | null;
    const topic = config.topic || 'bms/params';
    const rating = config.rating?.trim() ? Number(config.rating) : undefined;
    const dir = dataDir(RED);
    if (link?.connection) link.register(node);
    node.status({});

    const backup = (pack: number, serial: string | null, parameters: object): string => {
      const time = new Date().toISOString();
      const file = join(
        dir,
        'backups',
        `params-${safeFileName(serial ?? `pack${String(pack)}`)}-${time.replace(/[:.]/g, '-')}.json`,
      );
      mkdirSync(join(dir, 'backups'), { recursive: true });
      writeFileSync(file, `${JSON.stringify({ time, pack, serial, parameters }, null, 2)}\n`);
      return file;
    };
    const audit = (record: AuditRecord): void => {
      node.send([null, { topic: 'bms/audit', payload: record }]);
      try {
        mkdirSync(dir, { recursive: true });
        appendFileSync(join(dir, 'audit.jsonl'), `${JSON.stringify(record)}\n`);
      } catch (err) {
        node.warn(`bms-params: ${t('bms-params.errors.audit', { reason: asError(err).message })}`);
      }
    };

    /**
     * Serial numbers (PACE Modbus only): never through the node's apply mode, only a message that
     * says `confirm: true`, for one pack, with writes allowed and the admin password set.
     */
    const writeSerials = (
      msg: NodeMessageInFlow & { confirm?: unknown; pack?: unknown },
      payload: unknown,
      send: Send,
      done: Done,
    ): void => {
      const fail = (text: string): void => {
        done(new Error(`bms-params: ${text}`));
      };
      const packs = packsOf(config.pack, msg.pack, link, t);
      const problem =
        msg.confirm !== true
          ? t('bms-params.errors.identityConfirm')
          : typeof packs === 'string'
            ? packs
            : packs.length !== 1
              ? t('bms-params.errors.onePack')
              : typeof payload !== 'object' || payload === null || Array.isArray(payload)
                ? t('bms-params.errors.identityPayload')
                : !link?.allowWrites
                  ? t(WRITES_OFF)
                  : typeof node.credentials.password !== 'string' || !node.credentials.password
                    ? t('bms-params.errors.noPassword')
                    : undefined;
      if (problem !== undefined || typeof packs === 'string') {
        fail(problem ?? '');
        return;
      }
      const [pack = 1] = packs;
      node.status({ fill: 'blue', shape: 'ring', text: t('bms-params.status.running', { action: 'writeIdentity' }) });
      parameterClient(link, t)
        .then((client) => writeIdentity(client, pack, payload as IdentityChange, audit))
        .then((outcome) => {
          node.status({ fill: 'green', shape: 'dot', text: t('bms-params.status.identity') });
          send([{ ...msg, topic, payload: outcome }, null]);
          done();
        })
        .catch((err: unknown) => {
          node.status({ fill: 'red', shape: 'ring', text: t('bms-params.status.failed') });
          fail(asError(err).message);
        });
    };

    node.on(
      'input',
      (msg: NodeMessageInFlow & { action?: unknown; confirm?: unknown; pack?: unknown }, send: Send, done: Done) => {
        const payload = msg.payload;
        if (msg.action === 'writeIdentity') {
          writeSerials(msg, payload, send, done);
          return;
        }
        const hasValues = typeof payload === 'object' && payload !== null && Object.keys(payload).length > 0;
        const actionName = typeof msg.action === 'string' ? msg.action : hasValues ? 'write' : 'read';
        // Own keys only: "__proto__" or "toString" is no action.
        const action = Object.hasOwn(ACTIONS, actionName) ? ACTIONS[actionName] : undefined;
        if (!action) {
          done(new Error(`bms-params: ${t('bms-params.errors.action', { action: actionName })}`));
          return;
        }
        const packs = packsOf(config.pack, msg.pack, link, t);
        if (typeof packs === 'string') {
          done(new Error(`bms-params: ${packs}`));
          return;
        }
        const apply = action !== 'read' && (msg.confirm === true || config.mode === 'apply');
        if (apply && !link?.allowWrites) {
          done(new Error(`bms-params: ${t(WRITES_OFF)}`));
          return;
        }
        if (apply && (typeof node.credentials.password !== 'string' || !node.credentials.password)) {
          done(new Error(`bms-params: ${t('bms-params.errors.noPassword')}`));
          return;
        }
        // A backup (or an earlier result) rolls back through its `parameters`.
        const desired =
          actionName === 'rollback' && hasValues && 'parameters' in payload ? payload.parameters : payload;
        node.status({ fill: 'blue', shape: 'ring', text: t('bms-params.status.running', { action: actionName }) });
        parameterClient(link, t)
          .then((client) =>
            runParameterJob(
              client,
              { packs, action, desired, apply, ...(rating !== undefined ? { ratedCurrent: rating } : {}) },
              { backup, audit },
            ),
          )
          .then((outcomes) => {
            node.status({ fill: 'green', shape: 'dot', text: summary(outcomes, t) });
            send([{ ...msg, topic, payload: outcomes.length === 1 ? outcomes[0] : outcomes }, null]);
            done();
          })
          .catch((err: unknown) => {
            const error = asError(err);
            const text = t(error.name === 'ParameterError' ? 'bms-params.status.rejected' : 'bms-params.status.failed');
            node.status({ fill: 'red', shape: 'ring', text });
            // What did happen goes out too: the backup and which groups were written.
            if (err instanceof ParameterJobError && err.outcomes.length)
              send([{ ...msg, topic, payload: err.outcomes }, null]);
            done(new Error(`bms-params: ${error.message}`));
          });
      },
    );

    node.on('close', (_removed: boolean, done: () => void) => {
      whenSettled(link ? link.deregister(node) : Promise.resolve(), done);
    });
  }
  RED.nodes.registerType('bms-params', BmsParams, { credentials: { password: { type: 'password' } } });
};
