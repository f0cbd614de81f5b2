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
    // A gate is open only when set to exactly true: "false" from a hand-edited flow is not true.
    node.allowWrites = (config.allowWrites as unknown) === true;
    node.configError = 'error' in parsed ? parsed.error : undefined;
    node.connection = 'options' in parsed ? new BankConnection(parsed.options) : undefined;
    if (node.configError) node.error(`bms-link: ${node.configError}`);
    node.connection?.on('error', (err: Error) => { node.warn(`bms-link ${config.port}: ${err.message}`); });
    node.connection?.on('packs', ({ added, packs }: { added: number[]; packs: number[] }) => {
      node.log(`bms-link ${config.port}: the master now reports pack(s) ${added.join(', ')}; polling ${packs.join(', ')}`);
    });

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
