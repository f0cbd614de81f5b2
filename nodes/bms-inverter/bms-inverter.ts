import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import type { PackInput } from '../../src/bank';
import type { Announcement, AnnouncerOptions } from '../../src/inverter/announcer';
import { PylonCanSender, type SenderReport } from '../../src/inverter/can-sender';
import { Rs485Responder, type Rs485Request } from '../../src/inverter/rs485-responder';
import type { BankCycle } from '../../src/link';
import { SlcanBus, type SlcanBusState } from '../../src/link/slcan-bus';
import type { InverterFrame } from '../../src/protocol/pylon-can';
import { runtimeTexts, type Texts } from '../shared/i18n';
import { parseInverterConfig, type InverterConfig, type ParsedInverterConfig } from '../shared/inverter-config';
import { bankInput } from '../shared/payloads';
import { subscribe, type LinkSubscription } from '../shared/subscribe';
import {
  formatNumber,
  statusSetter,
  whenSettled,
  type BmsLinkConfigNode,
  type Done,
  type NodeStatus,
  type Send,
} from '../shared/types';

const INVERTER_OUTPUT_EVERY_MS = 60_000;

type BmsInverterDef = NodeDef & InverterConfig & { source: string; link: string; topic: string };

/** What a period announced, from either side. */
interface Told {
  readonly stage: number;
  readonly reason: string;
  readonly stalePacks: readonly number[];
  readonly values: Announcement['values'];
  readonly packsOnline: number;
  readonly packsExpected: number;
}

const told = (a: Announcement): Told => ({
  stage: a.freshness.stage,
  reason: a.freshness.reason,
  stalePacks: a.freshness.stalePacks,
  values: a.values,
  packsOnline: a.packsOnline,
  packsExpected: a.packsExpected,
});

/** The status of a period: what the inverter is told, or why nothing. */
function statusOf(a: Told, t: Texts, waiting: string | null): NodeStatus {
  const v = a.values;
  if (!v) return { fill: 'red', shape: 'dot', text: t('bms-inverter.status.silent', { reason: a.reason }) };
  const dcl = formatNumber(v.dischargeCurrent, 0);
  if (a.stage === 2) return { fill: 'red', shape: 'ring', text: t('bms-inverter.status.noCharge', { dcl }) };
  if (waiting) return { fill: 'yellow', shape: 'ring', text: waiting };
  const text = t('bms-inverter.status.limits', {
    cvl: formatNumber(v.chargeVoltage, 1),
    ccl: formatNumber(v.chargeCurrent, 0),
    dcl,
    online: a.packsOnline,
    expected: a.packsExpected,
  });
  return { fill: a.stage === 1 ? 'yellow' : 'green', shape: 'dot', text };
}

export = (RED: NodeAPI): void => {
  const t = runtimeTexts(RED._);
  function BmsInverter(this: Node, config: BmsInverterDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = statusSetter(node);
    const fromLink = config.source !== 'input';
    const link = fromLink ? (RED.nodes.getNode(config.link) as BmsLinkConfigNode | null) : null;
    const parsed = parseInverterConfig(config, t);
    const topic = config.topic || 'bms/inverter';
    const problem =
      'error' in parsed ? parsed.error : fromLink && !link ? t('bms-link.common.noLink') : link?.configError;
    let feed: ((packs: readonly PackInput[]) => void) | undefined;
    let stop: (() => Promise<void>) | undefined;
    let subscription: LinkSubscription | undefined;

    if (problem || !('options' in parsed)) {
      const text = problem ?? t('bms-link.common.invalidConfig');
      status({ fill: 'red', shape: 'ring', text });
      node.error(`bms-inverter: ${text}`);
    } else {
      const o = parsed.options;
      const common = {
        identity: {
          manufacturer: o.manufacturer,
          product: 'LFP-BMS',
          firmware: { major: 1, minor: 0 },
          forceChargeSoc: o.forceChargeSoc,
        },
        limits: o.limits,
        pollIntervalMs: link?.connection?.options.intervalMs ?? (link ? 5000 : o.intervalMs),
        silentAfterMs: o.silentAfterMs,
      };
      status({ fill: 'grey', shape: 'ring', text: t('bms-link.common.waiting') });
      const started = o.protocol === 'can' ? startCan(o, common) : startRs485(o, common);
      feed = started.feed;
      stop = started.stop;
      if (link) subscription = subscribe(node, link, { cycle: onCycle }, t);
    }

    function startCan(
      o: ParsedInverterConfig,
      common: AnnouncerOptions,
    ): { feed: (packs: readonly PackInput[]) => void; stop: () => Promise<void> } {
      const bus = new SlcanBus({ port: o.port });
      const sender = new PylonCanSender(bus, {
        ...common,
        family: o.family,
        requireKeepAlive: o.requireKeepAlive,
        probeEveryMs: o.probeEveryMs,
      });
      let adapter: SlcanBusState = bus.state;
      let last = '';
      bus.on('state', (state: SlcanBusState) => {
        if (state.phase === 'disconnected' && state.error !== adapter.error)
          node.warn(`bms-inverter ${o.port}: ${state.error ?? ''}`);
        adapter = state;
        if (state.phase !== 'open')
          status({ fill: 'red', shape: 'ring', text: t(`bms-inverter.adapter.${state.phase}`, { port: o.port }) });
      });
      sender.on('report', (report: SenderReport) => {
        if (!bus.isOpen) return;
        const waiting = report.linked ? null : t('bms-inverter.status.waiting');
        status(statusOf(report, t, waiting));
        // The output: when what the inverter is told changes in kind, not every second.
        const kind = `${String(report.stage)} ${report.sent} ${String(report.linked)}`;
        if (kind === last) return;
        last = kind;
        node.send({ topic, payload: report });
      });
      // A Sunny Island sends its values every second: out at most once a minute, a change of request at once.
      const lastInverter = new Map<string, { at: number; key: string }>();
      sender.on('inverter', (frame: InverterFrame) => {
        const key = frame.kind === 'shutdown-request' ? String(frame.shutdown) : '';
        const last = lastInverter.get(frame.kind);
        const now = Date.now();
        if (last && last.key === key && now - last.at < INVERTER_OUTPUT_EVERY_MS) return;
        lastInverter.set(frame.kind, { at: now, key });
        node.send({ topic, payload: { inverter: frame } });
      });
      bus.start();
      sender.start();
      return {
        feed: (packs) => {
          sender.feed(packs);
        },
        stop: async () => {
          sender.stop();
          await bus.stop();
        },
      };
    }

    function startRs485(
      o: ParsedInverterConfig,
      common: AnnouncerOptions,
    ): { feed: (packs: readonly PackInput[]) => void; stop: () => Promise<void> } {
      const responder = new Rs485Responder({
        ...common,
        port: o.port,
        baudRate: o.baudRate,
        address: o.address,
        systemCurrentUnit: o.systemCurrentUnit,
      });
      const seen = new Set<string>();
      let lastStage = -1;
      responder.on('state', (state: { phase: string; error?: string }) => {
        if (state.phase === 'disconnected') node.warn(`bms-inverter ${o.port}: ${state.error ?? ''}`);
        if (state.phase !== 'listening')
          status({ fill: 'red', shape: 'ring', text: t(`bms-inverter.port.${state.phase}`, { port: o.port }) });
      });
      responder.on('announcement', (a: Announcement) => {
        if (responder.phase !== 'listening') return;
        status(statusOf(told(a), t, responder.stats.requests === 0 ? t('bms-inverter.status.noPolls') : null));
        if (a.freshness.stage === lastStage) return;
        lastStage = a.freshness.stage;
        node.send({ topic, payload: told(a) });
      });
      // Every command the inverter asks for the first time: what a new inverter polls shows here.
      responder.on('request', (request: Rs485Request) => {
        const key = `${request.command} ${String(request.address)}`;
        if (seen.has(key)) return;
        seen.add(key);
        node.send({ topic, payload: { request: { ...request, answered: request.reply !== null } } });
      });
      responder.start();
      return {
        feed: (packs) => {
          responder.feed(packs);
        },
        stop: () => responder.stop(),
      };
    }

    function onCycle(cycle: BankCycle): void {
      feed?.(cycle.packs);
    }

    const onInput = bankInput('bms-inverter', link, feed, problem ?? t('bms-link.common.invalidConfig'), t);
    node.on('input', (msg: NodeMessageInFlow, _send: Send, done: Done) => {
      onInput(msg, done);
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      whenSettled(Promise.all([stop?.(), subscription?.close()]), done);
    });
  }
  RED.nodes.registerType('bms-inverter', BmsInverter);
};
