import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import {
  asError,
  SWITCH_NAMES,
  readClock,
  readInverterProtocol,
  setClock,
  setSwitch,
  shutdown,
  writeInverterProtocol,
  type BmsClient,
  type SwitchName,
} from '../../src/link';
import { runtimeTexts } from '../shared/i18n';
import { WRITES_OFF, packsOf, paceClient } from '../shared/maintenance';
import { whenSettled, type BmsLinkConfigNode, type Done, type Send } from '../shared/types';

interface BmsControlDef extends NodeDef {
  link: string;
  pack?: string;
  dailyClock?: boolean;
  topic?: string;
}

type ControlMsg = NodeMessageInFlow & { action?: unknown; confirm?: unknown; pack?: unknown };

const READS = ['readClock', 'readInverter'];
const ACTIONS = [...READS, 'setClock', 'writeInverter', 'shutdown', ...SWITCH_NAMES];
const DAY_MS = 24 * 3600_000;

/** What one action does to one pack; the result goes out as msg.payload. */
async function perform(client: BmsClient, pack: number, action: string, payload: unknown): Promise<unknown> {
  switch (action) {
    case 'readClock':
      return readClock(client, pack);
    case 'setClock':
      return setClock(client, pack);
    case 'readInverter':
      return readInverterProtocol(client, pack);
    case 'writeInverter':
      return writeInverterProtocol(client, pack, typeof payload === 'object' && payload !== null ? payload : {});
    case 'shutdown':
      await shutdown(client, pack);
      return { shutdown: true };
    default:
      return setSwitch(client, pack, action as SwitchName, payload === true);
  }
}

export = (RED: NodeAPI): void => {
  const t = runtimeTexts(RED._);
  function BmsControl(this: Node, config: BmsControlDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const link = RED.nodes.getNode(config.link) as BmsLinkConfigNode | null;
    const topic = config.topic || 'bms/control';
    let daily: NodeJS.Timeout | undefined;
    if (link?.connection) link.register(node);

    const run = async (action: string, packs: number[], msg: ControlMsg, send: Send): Promise<void> => {
      const client = await paceClient(link, t);
      for (const pack of packs) {
        const result = await perform(client, pack, action, msg.payload);
        send({ ...msg, topic, pack, action, payload: result });
      }
      node.status({ fill: 'green', shape: 'dot', text: t('bms-control.status.done', { action }) });
    };

    const setClocks = (): void => {
      const packs = packsOf(config.pack, undefined, link, t);
      if (typeof packs === 'string' || !link?.allowWrites) return;
      run('setClock', packs, { _msgid: RED.util.generateId(), payload: null }, (msg) => {
        node.send(msg);
      }).catch((err: unknown) => {
        node.error(`bms-control: ${t('bms-control.errors.dailyClock', { reason: asError(err).message })}`);
      });
    };
    if ((config.dailyClock as unknown) === true) {
      if (!link?.allowWrites)
        node.warn(`bms-control: ${t('bms-control.errors.dailyClockOff', { reason: t(WRITES_OFF) })}`);
      daily = setInterval(setClocks, DAY_MS);
    }

    node.on('input', (msg: ControlMsg, send: Send, done: Done) => {
      const action = typeof msg.action === 'string' ? msg.action : '';
      const packs = packsOf(config.pack, msg.pack, link, t);
      const fail = (text: string): void => {
        done(new Error(`bms-control: ${text}`));
      };
      if (!ACTIONS.includes(action)) {
        fail(t('bms-control.errors.action', { actions: ACTIONS.join(', ') }));
        return;
      }
      if (typeof packs === 'string') {
        fail(packs);
        return;
      }
      if (!READS.includes(action) && !link?.allowWrites) {
        fail(t(WRITES_OFF));
        return;
      }
      if ((SWITCH_NAMES as readonly string[]).includes(action) && typeof msg.payload !== 'boolean') {
        fail(t('bms-control.errors.switchPayload', { action }));
        return;
      }
      if (action === 'shutdown' && msg.confirm !== true) {
        fail(t('bms-control.errors.confirmShutdown'));
        return;
      }
      node.status({ fill: 'blue', shape: 'ring', text: t('bms-control.status.running', { action }) });
      run(action, packs, msg, send)
        .then(() => {
          done();
        })
        .catch((err: unknown) => {
          node.status({ fill: 'red', shape: 'ring', text: t('bms-control.status.failed', { action }) });
          fail(asError(err).message);
        });
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      clearInterval(daily);
      whenSettled(link ? link.deregister(node) : Promise.resolve(), done);
    });
  }
  RED.nodes.registerType('bms-control', BmsControl);
};
