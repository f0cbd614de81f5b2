import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { aggregateBank, type BankState, type PackInput } from '../../src/bank';
import { runtimeTexts } from '../shared/i18n';
import { PackCollector } from '../shared/pack-collector';
import { asPackInput } from '../shared/payloads';
import { asError, type BankCycle } from '../../src/link';
import { subscribe, type LinkSubscription } from '../shared/subscribe';
import { formatNumber, statusSetter, whenSettled, type BmsLinkConfigNode, type Done, type Send } from '../shared/types';

interface BmsParallelDef extends NodeDef {
  source: string;
  link: string;
  stale: string;
  packs: string;
  topic: string;
}

export = (RED: NodeAPI): void => {
  const t = runtimeTexts(RED._);
  function BmsParallel(this: Node, config: BmsParallelDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = statusSetter(node);
    const fromLink = config.source !== 'input';
    const link = fromLink ? (RED.nodes.getNode(config.link) as BmsLinkConfigNode | null) : null;
    const staleMs = Math.max(1, Number(config.stale) || 30) * 1000;
    const expected = (config.packs || '')
      .split(/[\s,]+/)
      .filter(Boolean)
      .map(Number)
      .filter((n) => Number.isInteger(n));
    const topic = config.topic || 'bms/bank';
    const received = new PackCollector();
    const problem = fromLink && !link ? t('bms-link.common.noLink') : link?.configError;

    const showStatus = (state: BankState): void => {
      const ok = state.packsOnline === state.packsExpected && state.alarmLevel === 'none';
      status({
        fill:
          state.alarmLevel === 'fault' || state.alarmLevel === 'protection' || state.packsOnline === 0
            ? 'red'
            : ok
              ? 'green'
              : 'yellow',
        shape: ok ? 'dot' : 'ring',
        text: t('bms-parallel.status.bank', {
          soc: formatNumber(state.soc, 0),
          online: state.packsOnline,
          expected: state.packsExpected,
        }),
      });
    };

    const aggregate = (inputs: readonly PackInput[]): BankState =>
      aggregateBank(inputs, { staleAfterMs: staleMs, ...(expected.length ? { expectedPacks: expected } : {}) });

    const onCycle = (cycle: BankCycle): void => {
      const state = aggregate(cycle.packs);
      showStatus(state);
      node.send({ topic, payload: state });
    };
    let subscription: LinkSubscription | undefined;

    if (problem) {
      status({ fill: 'red', shape: 'ring', text: problem });
      if (!link?.configError) node.error(`bms-parallel: ${problem}`);
    } else if (link) {
      subscription = subscribe(node, link, { cycle: onCycle, status }, t);
    }

    node.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
      if (fromLink) {
        // With a link, an input message asks for a fresh read of the bank.
        if (problem || !link?.connection) {
          done(new Error(`bms-parallel: ${problem ?? t('bms-link.errors.noConnection')}`));
          return;
        }
        link.connection
          .pollNow()
          .then((cycle) => {
            send({ ...msg, topic, payload: aggregate(cycle.packs) });
            done();
          })
          .catch((err: unknown) => {
            done(asError(err));
          });
        return;
      }
      const input = asPackInput(msg.payload, t);
      if (typeof input === 'string') {
        done(new Error(`bms-parallel: ${input}`));
        return;
      }
      const state = aggregate(received.add(input, Date.now()));
      showStatus(state);
      send({ ...msg, topic, payload: state });
      done();
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      received.clear();
      whenSettled(subscription?.close() ?? Promise.resolve(), done);
    });
  }
  RED.nodes.registerType('bms-parallel', BmsParallel);
};
