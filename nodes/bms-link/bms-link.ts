import type { Node, NodeAPI, NodeDef } from 'node-red';
import { BankConnection } from '../../src/link';
import { parseLinkConfig, type LinkConfig } from '../shared/link-config';
import { whenSettled, type BmsLinkConfigNode } from '../shared/types';

type BmsLinkDef = NodeDef & LinkConfig & { allowWrites: boolean };

type BmsLinkNode = BmsLinkConfigNode & {
  connection: BankConnection | undefined;
  allowWrites: boolean;
  configError: string | undefined;
};

export = (RED: NodeAPI): void => {
  function BmsLink(this: BmsLinkNode, config: BmsLinkDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const users = new Set<Node>();
    const parsed = parseLinkConfig(config);
    node.allowWrites = config.allowWrites;
    node.configError = 'error' in parsed ? parsed.error : undefined;
    node.connection = 'options' in parsed ? new BankConnection(parsed.options) : undefined;
    if (node.configError) node.error(`bms-link: ${node.configError}`);
    node.connection?.on('error', (err: Error) => { node.warn(`bms-link ${config.port}: ${err.message}`); });

    node.register = (user: Node): void => {
      users.add(user);
      if (users.size === 1) node.connection?.start();
    };

    // The port is released when the last user leaves (removed or redeployed) or this node closes.
    node.deregister = async (user: Node): Promise<void> => {
      users.delete(user);
      if (users.size === 0) await node.connection?.stop();
    };

    node.on('close', (_removed: boolean, done: () => void) => {
      users.clear();
      whenSettled(node.connection?.stop() ?? Promise.resolve(), done);
    });
  }
  RED.nodes.registerType('bms-link', BmsLink);
};
