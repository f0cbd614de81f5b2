import type { Node } from 'node-red';
import { errorMessage } from '../../src/errors';
import type { BankCycle, ConnectionState } from '../../src/link';
import { englishTexts, type Texts } from './i18n';
import type { BmsLinkConfigNode, NodeStatus } from './types';

/** What a node does with its link's news. */
export interface LinkHandlers {
  readonly cycle?: (cycle: BankCycle) => void;
  /** The node's status while the link is not delivering data (connecting, detecting, an error). */
  readonly status?: (status: NodeStatus) => void;
}

/** A node's hold on its link: `close()` in the node's close handler. */
export interface LinkSubscription {
  close(): Promise<void>;
}

/** A node status for a link that is not delivering data. */
export interface PhaseStatus {
  readonly fill: 'red' | 'green' | 'grey' | 'yellow';
  readonly shape: 'ring';
  readonly text: string;
}

/** The status a connection phase shows: colour from the phase, words from the situation (never from its text). */
export function connectionStatus(state: ConnectionState, t: Texts = englishTexts): PhaseStatus {
  const text = t(`bms-link.state.${state.situation}`, state.vars);
  switch (state.phase) {
    case 'error':
      return { fill: 'red', shape: 'ring', text };
    case 'polling':
      return { fill: 'green', shape: 'ring', text };
    case 'idle':
    case 'stopped':
      return { fill: 'grey', shape: 'ring', text };
    default:
      return { fill: 'yellow', shape: 'ring', text };
  }
}

/**
 * Subscribes a node to its link: registers it as a user of the port, calls its handlers, and shows
 * the link's phase until data arrives (and again whenever the link leaves polling). A handler that
 * throws is reported as the node's error — the poller and the other nodes on the link go on.
 * Undefined when the link cannot connect (its node shows why).
 */
export function subscribe(
  node: Node,
  link: BmsLinkConfigNode,
  handlers: LinkHandlers,
  t: Texts = englishTexts,
): LinkSubscription | undefined {
  const connection = link.connection;
  if (!connection) return undefined;
  let delivering = false;
  const guarded =
    <T>(fn: ((value: T) => void) | undefined) =>
    (value: T): void => {
      if (!fn) return;
      try {
        fn(value);
      } catch (err) {
        node.error(`${node.type}: ${errorMessage(err)}`);
      }
    };
  const onCycle = (cycle: BankCycle): void => {
    delivering = true;
    guarded(handlers.cycle)(cycle);
  };
  const onState = (state: ConnectionState): void => {
    if (state.phase === 'polling' && delivering) return;
    if (state.phase !== 'polling') delivering = false;
    guarded(handlers.status)(connectionStatus(state, t));
  };
  connection.on('cycle', onCycle);
  connection.on('state', onState);
  link.register(node);
  return {
    close: async () => {
      connection.off('cycle', onCycle);
      connection.off('state', onState);
      await link.deregister(node);
    },
  };
}
