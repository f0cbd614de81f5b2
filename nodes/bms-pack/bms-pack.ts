import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { inRange } from '../shared/ranges';
import { asError, packPayload, type BankCycle, type PackPayload } from '../../src/link';
import { changedBeyond } from '../../src/bank';
import { subscribe, type LinkSubscription } from '../shared/subscribe';
import { formatNumber, statusSetter, whenSettled, type BmsLinkConfigNode, type Done, type Send } from '../shared/types';

interface BmsPackDef extends NodeDef {
  link: string;
  pack: string;
  topic: string;
  onlyOnChange: boolean;
  deadband: string;
}

export = (RED: NodeAPI): void => {
  function BmsPack(this: Node, config: BmsPackDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = statusSetter(node);
    const link = RED.nodes.getNode(config.link) as BmsLinkConfigNode | null;
    const only = config.pack === 'all' || config.pack === '' ? undefined : Number(config.pack);
    const deadband = Math.max(0, Number(config.deadband) || 0);
    const topicFor = (pack: number): string => (config.topic || 'bms/<pack>').replace('<pack>', String(pack));
    const last = new Map<number, PackPayload>();
    // While an input message waits for its read, that cycle is sent as the answer, not twice.
    let answering = 0;
    const problem = !link
      ? 'no bms-link configured'
      : (link.configError ??
        (only !== undefined && 'error' in inRange('pack', only)
          ? `pack "${config.pack}" is not a pack of a bank (1 to 15, or all)`
          : undefined));

    const select = (cycle: BankCycle): PackPayload[] =>
      cycle.packs.filter((r) => only === undefined || r.pack === only).map(packPayload);

    const showStatus = (payloads: readonly PackPayload[]): void => {
      if (only !== undefined) {
        const p = payloads[0];
        if (!p?.online) status({ fill: 'red', shape: 'ring', text: p ? p.status : 'no data' });
        else
          status({
            fill: 'green',
            shape: 'dot',
            text: `SOC ${formatNumber(p.analog?.soc, 0)} % · ${formatNumber(p.analog?.voltage, 2)} V · ${formatNumber(p.analog?.current, 1)} A`,
          });
      } else {
        const online = payloads.filter((p) => p.online).length;
        status({
          fill: online === payloads.length ? 'green' : 'red',
          shape: online === payloads.length ? 'dot' : 'ring',
          text: `${online}/${payloads.length} packs online`,
        });
      }
    };

    const onCycle = (cycle: BankCycle): void => {
      const payloads = select(cycle);
      showStatus(payloads);
      for (const payload of payloads) {
        const previous = last.get(payload.pack);
        last.set(payload.pack, payload);
        if (answering > 0) continue;
        if (config.onlyOnChange && previous && !changedBeyond(previous, payload, deadband)) continue;
        node.send({ topic: topicFor(payload.pack), payload });
      }
    };

    let subscription: LinkSubscription | undefined;
    if (problem || !link?.connection) {
      // The reason itself, not "config error": the editor user sees it without opening the log.
      status({ fill: 'red', shape: 'ring', text: problem ?? 'no connection' });
      if (!link?.configError) node.error(`bms-pack: ${problem ?? 'no connection'}`);
    } else {
      subscription = subscribe(node, link, { cycle: onCycle, status });
    }

    // An input message reads the pack(s) now and answers with the same message.
    node.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
      const connection = link?.connection;
      if (problem || !connection) {
        done(new Error(`bms-pack: ${problem ?? 'no connection'}`));
        return;
      }
      answering++;
      connection
        .pollNow()
        .finally(() => {
          answering--;
        })
        .then((cycle) => {
          const payloads = select(cycle);
          if (payloads.length === 0) throw new Error(`bms-pack: pack ${String(only)} is not part of this bank`);
          const messages = payloads.map((payload, i) => ({
            ...(i === 0 ? msg : RED.util.cloneMessage(msg)),
            topic: topicFor(payload.pack),
            payload,
          }));
          send([messages]);
          done();
        })
        .catch((err: unknown) => {
          done(asError(err));
        });
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      whenSettled(subscription?.close() ?? Promise.resolve(), done);
    });
  }
  RED.nodes.registerType('bms-pack', BmsPack);
};
