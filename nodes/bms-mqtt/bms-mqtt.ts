import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { aggregateBank, type BankState } from '../../src/bank';
import { HaPublisher, idPart, memoryFrom, type ControlSource, type MqttMessage } from '../../src/homeassistant';
import { asError, type BankCycle } from '../../src/link';
import { log } from '../../src/log';
import { saveJson } from '../../src/venus/store';
import { dataDir } from '../shared/maintenance';
import { runtimeTexts } from '../shared/i18n';
import { parseMqttConfig, type MqttConfig } from '../shared/mqtt-config';
import { PackCollector } from '../shared/pack-collector';
import { subscribe, type LinkSubscription } from '../shared/subscribe';
import { asPackInput } from '../shared/payloads';
import { statusSetter, whenSettled, type BmsLinkConfigNode, type Done, type Send } from '../shared/types';

type BmsMqttDef = NodeDef & MqttConfig;

const SAVE_EVERY_MS = 60_000;

function isBankState(p: unknown): p is BankState {
  const v = p as Record<string, unknown> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    Array.isArray(v.packs) &&
    typeof v.packsOnline === 'number' &&
    typeof v.packsExpected === 'number' &&
    Array.isArray(v.alarms)
  );
}

function isControlReport(p: unknown): p is ControlSource {
  const v = p as Record<string, unknown> | null;
  const published: unknown = v?.published;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.stage === 'number' &&
    typeof published === 'object' &&
    published !== null &&
    typeof (published as Record<string, unknown>).ccl === 'number'
  );
}

export = (RED: NodeAPI): void => {
  const t = runtimeTexts(RED._);
  function BmsMqtt(this: Node, config: BmsMqttDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = statusSetter(node);
    const fromLink = config.source !== 'input';
    const link = fromLink ? (RED.nodes.getNode(config.link) as BmsLinkConfigNode | null) : null;
    const linkOptions = link?.connection?.options;
    // From a link: silent for three polls (the link's own offline rule) plus a timeout is stale.
    const linkStaleMs = linkOptions
      ? 3 * (linkOptions.intervalMs ?? 5000) + (linkOptions.timeoutMs ?? 1000)
      : undefined;
    const parsed = parseMqttConfig(config, idPart(node.id), linkStaleMs, t);
    const problem =
      'error' in parsed ? parsed.error : fromLink && !link ? t('bms-link.common.noLink') : link?.configError;
    const file = join(dataDir(RED), `mqtt-${idPart(node.id)}.json`);
    let publisher: HaPublisher | undefined;
    const collector = new PackCollector();

    const emit = (messages: MqttMessage[], send: Send = node.send.bind(node)): void => {
      if (!messages.length) return;
      if (log.mqtt.enabled)
        log.mqtt('%s: %d message(s), %d retained', node.id, messages.length, messages.filter((m) => m.retain).length);
      send([messages.map((m) => ({ topic: m.topic, payload: m.payload, retain: m.retain }))]);
      // What it announced is on disk at once, so a crash leaves nothing it could not delete later.
      if (messages.some((m) => m.retain && m.topic.endsWith('/config'))) save();
    };
    const save = (): void => {
      if (!publisher) return;
      try {
        saveJson(file, publisher.memory());
      } catch (err) {
        node.warn(`bms-mqtt: ${t('bms-mqtt.errors.save', { file, reason: asError(err).message })}`);
      }
    };
    const showStatus = (bank: BankState): void => {
      const id = publisher?.id;
      status(
        id
          ? {
              fill: bank.packsOnline > 0 ? 'green' : 'red',
              shape: 'dot',
              text: t('bms-mqtt.status.bank', { id, online: bank.packsOnline, expected: bank.packsExpected }),
            }
          : { fill: 'yellow', shape: 'ring', text: t('bms-mqtt.status.waitingSerials') },
      );
    };
    const onBank = (bank: BankState, send?: Send): void => {
      if (!publisher) return;
      emit(publisher.update(bank, Date.now()), send);
      showStatus(bank);
    };
    const onCycle = (cycle: BankCycle): void => {
      if (!publisher || !('options' in parsed)) return;
      onBank(aggregateBank(cycle.packs, { staleAfterMs: parsed.options.staleAfterMs }));
    };

    let subscription: LinkSubscription | undefined;
    let ticker: NodeJS.Timeout | undefined;
    let saver: NodeJS.Timeout | undefined;
    if (problem || !('options' in parsed)) {
      const text = problem ?? t('bms-link.common.invalidConfig');
      status({ fill: 'red', shape: 'ring', text });
      node.error(`bms-mqtt: ${text}`);
    } else {
      let memory: unknown = null;
      try {
        memory = JSON.parse(readFileSync(file, 'utf8'));
      } catch {
        // First start, or a damaged file: counters start at zero.
      }
      publisher = new HaPublisher(parsed.options, memoryFrom(memory));
      status({ fill: 'grey', shape: 'ring', text: t('bms-link.common.waiting') });
      ticker = setInterval(() => {
        if (publisher) emit(publisher.tick(Date.now()));
      }, 1000);
      saver = setInterval(save, SAVE_EVERY_MS);
      if (link) subscription = subscribe(node, link, { cycle: onCycle, status }, t);
    }
    const announceTopics = new Set(
      'options' in parsed ? [`${parsed.options.prefix}/status`, parsed.options.bridgeTopic ?? ''].filter(Boolean) : [],
    );

    node.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
      if (!publisher) {
        done(new Error(`bms-mqtt: ${problem ?? t('bms-link.common.invalidConfig')}`));
        return;
      }
      const payload = msg.payload;
      // Home Assistant (or the broker's birth message) came back: everything again.
      if (typeof msg.topic === 'string' && announceTopics.has(msg.topic)) {
        if (payload === 'online') emit(publisher.announce(Date.now()), send);
        done();
        return;
      }
      if (isControlReport(payload)) {
        emit(publisher.updateControl(payload, Date.now()), send);
        done();
        return;
      }
      const pack = isBankState(payload) ? null : asPackInput(payload, t);
      if (fromLink && (pack === null || typeof pack !== 'string')) {
        done(new Error(`bms-mqtt: ${t('bms-mqtt.errors.fromLink')}`));
        return;
      }
      if (pack === null) {
        onBank(payload as BankState, send);
        done();
        return;
      }
      if (typeof pack !== 'string') {
        const now = Date.now();
        onBank(
          aggregateBank(collector.add(pack, now), {
            staleAfterMs: 'options' in parsed ? parsed.options.staleAfterMs : 30_000,
          }),
          send,
        );
        done();
        return;
      }
      done(new Error(`bms-mqtt: ${t('bms-mqtt.errors.payload')}`));
    });

    node.on('close', (removed: boolean, done: () => void) => {
      clearInterval(ticker);
      clearInterval(saver);
      if (publisher) {
        emit(publisher.stop(removed));
        if (removed) rmSync(file, { force: true });
        else save();
      }
      collector.clear();
      whenSettled(subscription?.close() ?? Promise.resolve(), done);
    });
  }
  RED.nodes.registerType('bms-mqtt', BmsMqtt);
};
