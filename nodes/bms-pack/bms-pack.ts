import { runtimeTexts } from '../shared/i18n';
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
  const t = runtimeTexts(RED._);
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
      ? t('bms-link.common.noLink')
      : (link.configError ??
        (only !== undefined && 'error' in inRange('pack', only)
          ? t('bms-pack.errors.pack', { pack: config.pack })
          : undefined));

    const select = (cycle: BankCycle): PackPayload[] =>
      cycle.packs.filter((r) => only === undefined || r.pack === only).map(packPayload);

    const showStatus = (payloads: readonly PackPayload[]): void => {
      if (only !== undefined) {
        const p = payloads[0];
        if (!p?.online) status({ fill: 'red', shape: 'ring', text: p ? p.status : t('bms-pack.status.noData') });
        else
          status({
            fill: 'green',
            shape: 'dot',
            text: t('bms-pack.status.pack', {
              soc: formatNumber(p.analog?.soc, 0),
              voltage: formatNumber(p.analog?.voltage, 2),
              current: formatNumber(p.analog?.current, 1),
            }),
          });
      } else {
        const online = payloads.filter((p) => p.online).length;
        status({
          fill: online === payloads.length ? 'green' : 'red',
          shape: online === payloads.length ? 'dot' : 'ring',
          text: t('bms-pack.status.packs', { online, packs: payloads.length }),
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
      const text = problem ?? t('bms-link.errors.noConnection');
      status({ fill: 'red', shape: 'ring', text });
      if (!link?.configError) node.error(`bms-pack: ${text}`);
    } else {
      subscription = subscribe(node, link, { cycle: onCycle, status }, t);
    }

    // An input message reads the pack(s) now and answers with the same message.
    node.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
      const connection = link?.connection;
      if (problem || !connection) {
        done(new Error(`bms-pack: ${problem ?? t('bms-link.errors.noConnection')}`));
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
          if (payloads.length === 0)
            throw new Error(`bms-pack: ${t('bms-pack.errors.notInBank', { pack: String(only) })}`);
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
