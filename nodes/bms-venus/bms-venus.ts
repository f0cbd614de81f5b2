import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import type { BankCycle } from '../../src/link';
import { VenusBridge, packageVersion, type BridgeReport, type ServiceState } from '../../src/venus';
import { runtimeTexts, type Texts } from '../shared/i18n';
import { dataDir } from '../shared/maintenance';
import { bankInput } from '../shared/payloads';
import { formatNumber, statusSetter, whenSettled, type BmsLinkConfigNode, type Done, type Send } from '../shared/types';
import { parseVenusConfig, type VenusConfig } from '../shared/venus-config';
import { subscribe, type LinkSubscription } from '../shared/subscribe';

type BmsVenusDef = NodeDef & VenusConfig & { source: string; link: string; topic: string };

function statusOf(
  report: BridgeReport,
  t: Texts,
): { fill: 'green' | 'yellow' | 'red'; shape: 'dot' | 'ring'; text: string } {
  if (report.phase === 'retrying') return { fill: 'red', shape: 'ring', text: t('bms-venus.status.retrying') };
  const dcl = formatNumber(report.published.dcl, 0);
  if (report.stage === 3)
    return { fill: 'red', shape: 'dot', text: t('bms-venus.status.lost', { dcl, reason: report.reason }) };
  if (report.stage === 2) {
    const text =
      report.bmsLostInMs === undefined
        ? t('bms-venus.status.noCharge', { dcl })
        : t('bms-venus.status.noChargeLosing', { dcl, seconds: Math.ceil(report.bmsLostInMs / 1000) });
    return { fill: 'red', shape: 'ring', text };
  }
  const limits = { cvl: formatNumber(report.published.cvl, 2), ccl: formatNumber(report.published.ccl, 0) };
  const packs = { online: report.packsOnline, expected: report.packsExpected };
  const key = `bms-venus.status.${report.shadow ? 'shadow' : 'limits'}${report.stage === 1 ? 'Packs' : ''}`;
  const text = t(key, { ...limits, ...packs });
  return {
    fill: report.stage === 1 ? 'yellow' : 'green',
    shape: report.shadow || report.stage === 1 ? 'ring' : 'dot',
    text,
  };
}

export = (RED: NodeAPI): void => {
  const t = runtimeTexts(RED._);
  function BmsVenus(this: Node, config: BmsVenusDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = statusSetter(node);
    const fromLink = config.source !== 'input';
    const link = fromLink ? (RED.nodes.getNode(config.link) as BmsLinkConfigNode | null) : null;
    const parsed = parseVenusConfig(config, t);
    const topic = config.topic || 'bms/venus';
    const problem =
      'error' in parsed ? parsed.error : fromLink && !link ? t('bms-link.common.noLink') : link?.configError;
    let bridge: VenusBridge | undefined;
    let subscription: LinkSubscription | undefined;

    if (problem || !('options' in parsed)) {
      const text = problem ?? t('bms-link.common.invalidConfig');
      status({ fill: 'red', shape: 'ring', text });
      node.error(`bms-venus: ${text}`);
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
      status({ fill: 'grey', shape: 'ring', text: t('bms-link.common.waiting') });
      let lastProblem = '';
      bridge.on('report', (report: BridgeReport) => {
        status(statusOf(report, t));
        node.send({ topic, payload: report });
      });
      bridge.on('state', (state: ServiceState, service: string) => {
        if (state.phase === 'retrying' && state.error !== lastProblem) node.warn(`bms-venus ${service}: ${state.text}`);
        lastProblem = state.phase === 'retrying' ? (state.error ?? '') : '';
        if (state.phase === 'retrying') status({ fill: 'red', shape: 'ring', text: t('bms-venus.status.retrying') });
      });
      bridge.on('warning', (text: string) => {
        node.warn(`bms-venus: ${text}`);
      });
      // The bridge's own reports set the status: the link's phase matters to it only through its data.
      if (link) subscription = subscribe(node, link, { cycle: onCycle }, t);
    }

    function onCycle(cycle: BankCycle): void {
      bridge?.feed(cycle.packs);
    }

    const running = bridge;
    const onInput = bankInput(
      'bms-venus',
      link,
      running &&
        ((packs) => {
          running.feed(packs);
        }),
      problem ?? t('bms-link.common.invalidConfig'),
      t,
    );
    node.on('input', (msg: NodeMessageInFlow, _send: Send, done: Done) => {
      onInput(msg, done);
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      const leaving = Promise.all([bridge?.stop(), subscription?.close()]);
      whenSettled(leaving, done);
    });
  }
  RED.nodes.registerType('bms-venus', BmsVenus);
};
