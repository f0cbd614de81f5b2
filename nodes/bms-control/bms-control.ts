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
  function BmsControl(this: Node, config: BmsControlDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const link = RED.nodes.getNode(config.link) as BmsLinkConfigNode | null;
    const topic = config.topic || 'bms/control';
    let daily: NodeJS.Timeout | undefined;
    if (link?.connection) link.register(node);

    const run = async (action: string, packs: number[], msg: ControlMsg, send: Send): Promise<void> => {
      const client = await paceClient(link);
      for (const pack of packs) {
        const result = await perform(client, pack, action, msg.payload);
        send({ ...msg, topic, pack, action, payload: result });
      }
      node.status({ fill: 'green', shape: 'dot', text: `${action}: done` });
    };

    const setClocks = (): void => {
      const packs = packsOf(config.pack, undefined, link);
      if (typeof packs === 'string' || !link?.allowWrites) return;
      run('setClock', packs, { _msgid: RED.util.generateId(), payload: null }, (msg) => {
        node.send(msg);
      }).catch((err: unknown) => {
        node.error(`bms-control: daily clock set failed: ${asError(err).message}`);
      });
    };
    if ((config.dailyClock as unknown) === true) {
      if (!link?.allowWrites) node.warn(`bms-control: daily clock setting is on, but ${WRITES_OFF}`);
      daily = setInterval(setClocks, DAY_MS);
    }

    node.on('input', (msg: ControlMsg, send: Send, done: Done) => {
      const action = typeof msg.action === 'string' ? msg.action : '';
      const packs = packsOf(config.pack, msg.pack, link);
      const fail = (text: string): void => {
        done(new Error(`bms-control: ${text}`));
      };
      if (!ACTIONS.includes(action)) {
        fail(`msg.action must be one of ${ACTIONS.join(', ')}`);
        return;
      }
      if (typeof packs === 'string') {
        fail(packs);
        return;
      }
      if (!READS.includes(action) && !link?.allowWrites) {
        fail(WRITES_OFF);
        return;
      }
      if ((SWITCH_NAMES as readonly string[]).includes(action) && typeof msg.payload !== 'boolean') {
        fail(`${action}: msg.payload must be true (on) or false (off)`);
        return;
      }
      if (action === 'shutdown' && msg.confirm !== true) {
        fail('shutdown puts the BMS to sleep: send msg.confirm = true to do it');
        return;
      }
      node.status({ fill: 'blue', shape: 'ring', text: `${action}…` });
      run(action, packs, msg, send)
        .then(() => {
          done();
        })
        .catch((err: unknown) => {
          node.status({ fill: 'red', shape: 'ring', text: `${action}: failed` });
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
