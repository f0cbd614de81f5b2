import type { EventEmitter } from 'node:events';
import { dirname, join } from 'node:path';
import type { Node } from 'node-red';
import bmsAlarms = require('../../nodes/bms-alarms/bms-alarms');
import bmsLink = require('../../nodes/bms-link/bms-link');
import bmsPack = require('../../nodes/bms-pack/bms-pack');
import bmsParallel = require('../../nodes/bms-parallel/bms-parallel');
import bmsVenus = require('../../nodes/bms-venus/bms-venus');
import bmsParams = require('../../nodes/bms-params/bms-params');
import bmsHistory = require('../../nodes/bms-history/bms-history');
import bmsControl = require('../../nodes/bms-control/bms-control');
import bmsRecord = require('../../nodes/bms-record/bms-record');
import bmsMqtt = require('../../nodes/bms-mqtt/bms-mqtt');
import bmsInverter = require('../../nodes/bms-inverter/bms-inverter');

/** node-red-node-test-helper ships no types; this is the part the tests use. */
interface Helper {
  init(nodeRedPath: string): void;
  startServer(done: () => void): void;
  stopServer(done: () => void): void;
  load(nodes: unknown[], flow: object[], credentials?: object): Promise<void>;
  unload(): Promise<void>;
  /** Deploys `flow` as the editor would (`nodes`: only changed and removed nodes restart). */
  setFlows(flow: object[], type: 'full' | 'nodes' | 'flows'): Promise<void>;
  getNode(id: string): TestNode | null;
  settings(userSettings: object): object;
}

/** A node under test: runtime node plus the helper's sinon spies. */
export type TestNode = Node & {
  receive(msg: object): void;
  status: { lastCall?: { args: [{ fill?: string; shape?: string; text?: string }] }; callCount: number };
  error: { callCount: number; lastCall?: { args: unknown[] } };
};

// eslint-disable-next-line @typescript-eslint/no-require-imports -- untyped CommonJS module
export const helper: Helper = require('node-red-node-test-helper');
// LFP_NODE_RED: another Node-RED install to test against (npm run test:node-red-3 sets it to Node-RED 3.1).
const nodeRedMain = require.resolve(process.env.LFP_NODE_RED ?? 'node-red');
helper.init(nodeRedMain);

/** The version of the Node-RED the tests run against. */
export function nodeRedVersion(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the package.json beside that Node-RED's main file
  return (require(join(dirname(nodeRedMain), '..', 'package.json')) as { version: string }).version;
}

export const NODES = [
  bmsLink,
  bmsPack,
  bmsParallel,
  bmsAlarms,
  bmsVenus,
  bmsParams,
  bmsHistory,
  bmsControl,
  bmsRecord,
  bmsMqtt,
  bmsInverter,
];

export function startServer(): Promise<void> {
  return new Promise((resolve) => {
    helper.startServer(resolve);
  });
}

export function stopServer(): Promise<void> {
  return new Promise((resolve) => {
    helper.stopServer(resolve);
  });
}

export function node(id: string): TestNode {
  const found = helper.getNode(id);
  if (!found) throw new Error(`node ${id} was not loaded`);
  return found;
}

/** A node as the plain emitter it is (the helper emits `input` and `call:<method>` on it). */
export function events(id: string): EventEmitter {
  const emitter: EventEmitter = node(id);
  return emitter;
}

/** The next message a helper (sink) node receives. */
export function nextMessage<T = Record<string, unknown>>(
  id: string,
  where: (msg: T) => boolean = () => true,
): Promise<T> {
  const sink = events(id);
  return new Promise((resolve) => {
    const listener = (msg: T): void => {
      if (!where(msg)) return;
      sink.removeListener('input', listener);
      resolve(msg);
    };
    sink.on('input', listener);
  });
}

/** Resolves when the node's status matches. */
export function statusOf(
  id: string,
  where: (status: { fill?: string; shape?: string; text?: string }) => boolean,
): Promise<{ fill?: string; shape?: string; text?: string }> {
  const last = node(id).status.lastCall?.args[0];
  if (last && where(last)) return Promise.resolve(last);
  const n = events(id);
  return new Promise((resolve) => {
    const listener = (call: { args: [{ fill?: string; shape?: string; text?: string }] }): void => {
      if (!where(call.args[0])) return;
      n.removeListener('call:status', listener);
      resolve(call.args[0]);
    };
    n.on('call:status', listener);
  });
}

export const linkConfig = (id: string, port: string, extra: object = {}): object => ({
  id,
  type: 'bms-link',
  port,
  baud: '9600',
  dialect: 'auto',
  mode: 'auto',
  packs: 'discover',
  interval: '1',
  timeout: '300',
  gap: '2',
  allowWrites: false,
  ...extra,
});

/** One of Node-RED's own nodes (e.g. `core/network/10-mqtt.js`) from the Node-RED the tests run against. */
export function coreNode(path: string): unknown {
  const nodesPackage = require.resolve('@node-red/nodes/package.json', { paths: [dirname(nodeRedMain)] });
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- Node-RED's node files are CommonJS
  return require(join(dirname(nodesPackage), path)) as unknown;
}
