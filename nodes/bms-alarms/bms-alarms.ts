import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { AlarmTracker, LEVEL_RANK, type AlarmChange } from '../../src/bank';
import { runtimeTexts } from '../shared/i18n';
import { codesFrom } from '../shared/payloads';
import type { Done, Send } from '../shared/types';

interface BmsAlarmsDef extends NodeDef {
  raise: string;
  clear: string;
  include: string;
  exclude: string;
  minLevel: string;
  /** Level of the OFFLINE alarm, or 'off'; missing in flows saved before it existed (then: fault). */
  offline?: string;
  topic: string;
}

const codeList = (text: string): string[] =>
  text
    .split(/[\s,]+/)
    .map((c) => c.trim().toUpperCase())
    .filter(Boolean);

export = (RED: NodeAPI): void => {
  const t = runtimeTexts(RED._);
  function BmsAlarms(this: Node, config: BmsAlarmsDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const levels = ['warning', 'protection', 'fault'] as const;
    const minLevel = levels.find((l) => l === config.minLevel) ?? 'warning';
    const offlineLevel = config.offline === 'off' ? undefined : (levels.find((l) => l === config.offline) ?? 'fault');
    const tracker = new AlarmTracker({
      raiseAfterMs: Math.max(0, Number(config.raise) || 0) * 1000,
      clearAfterMs: Math.max(0, Number(config.clear) || 0) * 1000,
      include: codeList(config.include || ''),
      exclude: codeList(config.exclude || ''),
      minLevel,
      ...(offlineLevel ? { offlineLevel } : {}),
    });
    const topic = config.topic || 'bms/alarms';
    let timer: NodeJS.Timeout | undefined;

    const showStatus = (): void => {
      const active = tracker.active();
      const worst = active[0]?.level;
      node.status(
        active.length === 0
          ? { fill: 'green', shape: 'dot', text: t('bms-alarms.status.none') }
          : {
              fill: worst && LEVEL_RANK[worst] >= LEVEL_RANK.protection ? 'red' : 'yellow',
              shape: 'dot',
              text: t('bms-alarms.status.active', { alarms: active.length }),
            },
      );
    };

    const emit = (changes: readonly AlarmChange[], send: Send): void => {
      showStatus();
      if (changes.length === 0) return;
      send([changes.map((change) => ({ topic, payload: change })), { topic, payload: tracker.active() }]);
    };

    // Debounced raises and clears come due without new input: one timer for the next due time.
    const schedule = (): void => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      const due = tracker.nextDue();
      if (due === undefined) return;
      timer = setTimeout(
        () => {
          timer = undefined;
          emit(tracker.tick(Date.now()), (msg) => {
            node.send(msg);
          });
          schedule();
        },
        Math.max(0, due - Date.now()),
      );
    };

    showStatus();
    node.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
      const codes = codesFrom(msg.payload, t);
      if (typeof codes === 'string') {
        done(new Error(`bms-alarms: ${codes}`));
        return;
      }
      emit(tracker.update(codes.reporting, Date.now(), codes.offline), send);
      schedule();
      done();
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      done();
    });
  }
  RED.nodes.registerType('bms-alarms', BmsAlarms);
};
