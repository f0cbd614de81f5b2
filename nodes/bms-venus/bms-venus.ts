import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { asError, type BankCycle } from '../../src/link';
import { VenusBridge, packageVersion, type BridgeReport, type ServiceState } from '../../src/venus';
import { dataDir } from '../shared/maintenance';
import { packInputsFrom } from '../shared/payloads';
import { formatNumber, statusSetter, whenSettled, type BmsLinkConfigNode, type Done, type Send } from '../shared/types';
import { parseVenusConfig, type VenusConfig } from '../shared/venus-config';
import { subscribe, type LinkSubscription } from '../shared/subscribe';

type BmsVenusDef = NodeDef & VenusConfig & { source: string; link: string; topic: string };

function statusOf(report: BridgeReport): { fill: 'green' | 'yellow' | 'red'; shape: 'dot' | 'ring'; text: string } {
  if (report.phase === 'retrying') return { fill: 'red', shape: 'ring', text: 'D-Bus unreachable, retrying' };
  const dcl = `DCL ${formatNumber(report.published.dcl, 0)} A`;
  if (report.stage === 3) return { fill: 'red', shape: 'dot', text: `BMS lost · ${dcl} · ${report.reason}` };
  if (report.stage === 2) {
    const left =
      report.bmsLostInMs === undefined ? '' : ` · BMS lost in ${String(Math.ceil(report.bmsLostInMs / 1000))} s`;
    return { fill: 'red', shape: 'ring', text: `no charge · ${dcl}${left}` };
  }
  const limits = `CVL ${formatNumber(report.published.cvl, 2)} V · CCL ${formatNumber(report.published.ccl, 0)} A`;
  const text = `${report.shadow ? 'shadow · ' : ''}${report.stage === 1 ? `${String(report.packsOnline)}/${String(report.packsExpected)} packs · ` : ''}${limits}`;
  return {
    fill: report.stage === 1 ? 'yellow' : 'green',
    shape: report.shadow || report.stage === 1 ? 'ring' : 'dot',
    text,
  };
}

export = (RED: NodeAPI): void => {
  function BmsVenus(this: Node, config: BmsVenusDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = statusSetter(node);
    const fromLink = config.source !== 'input';
    const link = fromLink ? (RED.nodes.getNode(config.link) as BmsLinkConfigNode | null) : null;
    const parsed = parseVenusConfig(config);
    const topic = config.topic || 'bms/venus';
    const problem = 'error' in parsed ? parsed.error : fromLink && !link ? 'no bms-link configured' : link?.configError;
    let bridge: VenusBridge | undefined;
    let subscription: LinkSubscription | undefined;

    if (problem || !('options' in parsed)) {
      status({ fill: 'red', shape: 'ring', text: problem ?? 'invalid configuration' });
      node.error(`bms-venus: ${problem ?? 'invalid configuration'}`);
    } else {
      const o = parsed.options;
      bridge = new VenusBridge({
        busAddress: o.busAddress,
        ...(o.bankId ? { bankId: o.bankId } : {}),
        fallbackId: node.id.replace(/\W/g, ''),
        preferredInstance: o.preferredInstance,
        packServices: o.packServices,
        productName: o.productName,
        connection: link?.connection ? `RS485 ${link.connection.options.port}` : 'Node-RED flow',
        processName: 'Node-RED node-red-contrib-lifepo4-bms',
        processVersion: packageVersion(),
        pollIntervalMs: link?.connection?.options.intervalMs ?? (link ? 5000 : o.intervalMs),
        lostAfterMs: o.lostAfterMs,
        releaseOnLoss: o.releaseOnLoss,
        charge: o.charge,
        stateDir: dataDir(RED),
      });
      status({ fill: 'grey', shape: 'ring', text: 'waiting for data' });
      let lastProblem = '';
      bridge.on('report', (report: BridgeReport) => {
        status(statusOf(report));
        node.send({ topic, payload: report });
      });
      bridge.on('state', (state: ServiceState, service: string) => {
        if (state.phase === 'retrying' && state.error !== lastProblem) node.warn(`bms-venus ${service}: ${state.text}`);
        lastProblem = state.phase === 'retrying' ? (state.error ?? '') : '';
        if (state.phase === 'retrying') status({ fill: 'red', shape: 'ring', text: 'D-Bus unreachable, retrying' });
      });
      bridge.on('warning', (text: string) => {
        node.warn(`bms-venus: ${text}`);
      });
      // The bridge's own reports set the status: the link's phase matters to it only through its data.
      if (link) subscription = subscribe(node, link, { cycle: onCycle });
    }

    function onCycle(cycle: BankCycle): void {
      bridge?.feed(cycle.packs);
    }

    node.on('input', (msg: NodeMessageInFlow, _send: Send, done: Done) => {
      if (!bridge) {
        done(new Error(`bms-venus: ${problem ?? 'invalid configuration'}`));
        return;
      }
      if (fromLink) {
        // With a link, an input message asks for a fresh read; the cycle feeds the bridge.
        link?.connection
          ?.pollNow()
          .then(() => {
            done();
          })
          .catch((err: unknown) => {
            done(asError(err));
          });
        return;
      }
      const inputs = packInputsFrom(msg.payload);
      if (typeof inputs === 'string') {
        done(new Error(`bms-venus: ${inputs}`));
        return;
      }
      bridge.feed(inputs);
      done();
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      const leaving = Promise.all([bridge?.stop(), subscription?.close()]);
      whenSettled(leaving, done);
    });
  }
  RED.nodes.registerType('bms-venus', BmsVenus);
};
