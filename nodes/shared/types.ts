import type { Node, NodeMessage } from 'node-red';
import type { BankConnection } from '../../src/link';

/** The bms-link config node as its users see it. */
export interface BmsLinkConfigNode extends Node {
  readonly connection: BankConnection | undefined;
  readonly allowWrites: boolean;
  /** Why the configuration cannot be used, when it cannot. */
  readonly configError: string | undefined;
  register(user: Node): void;
  deregister(user: Node): Promise<void>;
}

export type Send = (msg: NodeMessage | (NodeMessage | NodeMessage[] | null)[]) => void;
export type Done = (err?: Error) => void;

export type NodeStatus = Parameters<Node['status']>[0];

/**
 * The node's status, set only when it differs from the one shown: each call goes to every open
 * editor, and a poll cycle would otherwise repeat the same status for every node every few seconds.
 */
export function statusSetter(node: Node): (status: NodeStatus) => void {
  let shown = '';
  return (status) => {
    const key = JSON.stringify(status);
    if (key === shown) return;
    shown = key;
    node.status(status);
  };
}

/** Status texts stay short (node-red shows ~20 characters comfortably). */
export function formatNumber(value: number | null | undefined, decimals: number): string {
  if (value === null || value === undefined) return '?';
  return value.toFixed(decimals).replace('-', '−');
}

/** Run `then` once `promise` settles either way (close handlers must always call done). */
export function whenSettled(promise: Promise<unknown>, then: () => void): void {
  promise
    .then(() => {
      then();
    })
    .catch(() => {
      then();
    });
}

/**
 * Whether any of Node-RED's loggers shows trace messages: its `logging` setting names each logger
 * (`console` and custom handlers) with a level, fixed while the runtime runs.
 */
export function traceLogging(settings: unknown): boolean {
  const logging =
    typeof settings === 'object' && settings !== null ? (settings as { logging?: unknown }).logging : null;
  if (typeof logging !== 'object' || logging === null) return false;
  return Object.values(logging).some(
    (logger) => typeof logger === 'object' && logger !== null && (logger as { level?: unknown }).level === 'trace',
  );
}
