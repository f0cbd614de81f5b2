import type { Node, NodeAPI, NodeDef } from 'node-red';
import { join } from 'node:path';
import { BankConnection, CaptureWriter, describeWireEvent, listSerialPorts, type WireEvent } from '../../src/link';
import { dataDir } from '../shared/maintenance';
import { parseLinkConfig, type LinkConfig } from '../shared/link-config';
import { traceLogging, whenSettled, type BmsLinkConfigNode } from '../shared/types';
import { errorMessage } from '../../src/errors';
import { runtimeTexts } from '../shared/i18n';

type BmsLinkDef = NodeDef & LinkConfig & { allowWrites: boolean; capture?: boolean; anonymise?: boolean };

type BmsLinkNode = BmsLinkConfigNode & {
  connection: BankConnection | undefined;
  allowWrites: boolean;
  configError: string | undefined;
};

/** Admin apps the port list is served on (one per runtime). */
const routed = new WeakSet();

export = (RED: NodeAPI): void => {
  const t = runtimeTexts(RED._);
  if (!routed.has(RED.httpAdmin)) {
    routed.add(RED.httpAdmin);
    // The editor's port picker: serial ports of this machine, for users allowed to read bms-link nodes.
    RED.httpAdmin.get('/lifepo4-bms/ports', RED.auth.needsPermission('bms-link.read'), (_req, res) => {
      // listSerialPorts reads /dev and never rejects; an empty list on any surprise.
      listSerialPorts()
        .then((ports) => {
          res.json(ports);
        })
        .catch(() => {
          res.json([]);
        });
    });
    // The editor's "diagnose" button: three reads of a running link's bank, every frame, timing and
    // what did not decode, as one JSON file for a bug report (serials scrambled).
    RED.httpAdmin.get('/lifepo4-bms/diagnose/:id', RED.auth.needsPermission('bms-link.read'), (req, res) => {
      const link = RED.nodes.getNode(String(req.params.id)) as BmsLinkNode | null;
      if (!link || (link as Node).type !== 'bms-link') {
        res.status(404).type('text/plain').send(t('bms-link.errors.notDeployed'));
        return;
      }
      if (!link.connection) {
        res
          .status(409)
          .type('text/plain')
          .send(t('bms-link.errors.cannotConnect', { reason: link.configError ?? t('bms-link.errors.noConnection') }));
        return;
      }
      link.connection
        .diagnose(3)
        .then((bundle) => {
          const name = `lfp-bms-diagnose-${bundle.created.replace(/[:.]/g, '-')}.json`;
          res.set('Content-Disposition', `attachment; filename="${name}"`).json(bundle);
        })
        .catch((err: unknown) => {
          res
            .status(409)
            .type('text/plain')
            .send(t('bms-link.errors.cannotRead', { reason: errorMessage(err) }));
        });
    });
  }

  function BmsLink(this: BmsLinkNode, config: BmsLinkDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const users = new Set<Node>();
    const parsed = parseLinkConfig(config, t);
    // A gate is open only when set to exactly true: "false" from a hand-edited flow is not true.
    node.allowWrites = (config.allowWrites as unknown) === true;
    node.configError = 'error' in parsed ? parsed.error : undefined;
    node.connection = 'options' in parsed ? new BankConnection(parsed.options) : undefined;
    if (node.configError) node.error(`bms-link: ${node.configError}`);
    // A lasting condition (an unplugged adapter retried every few seconds) is reported once, then
    // again only when it changes; how often it repeated is logged then, and when the bank is back.
    let lastWarning = '';
    let repeats = 0;
    node.connection?.on('error', (err: Error) => {
      const text = err.message.includes(config.port)
        ? `bms-link: ${err.message}`
        : `bms-link ${config.port}: ${err.message}`;
      if (text === lastWarning) {
        repeats += 1;
        return;
      }
      if (repeats > 0)
        node.log(
          `${lastWarning} (${t(repeats === 1 ? 'bms-link.log.repeatedOnce' : 'bms-link.log.repeated', { times: repeats })})`,
        );
      lastWarning = text;
      repeats = 0;
      node.warn(text);
    });
    node.connection?.on('state', (state: { phase: string }) => {
      if (state.phase !== 'polling' || !lastWarning) return;
      const again = repeats > 0 ? 'bms-link.log.workingAfter' : 'bms-link.log.working';
      node.log(`bms-link ${config.port}: ${t(again, { attempts: repeats + 1 })}`);
      lastWarning = '';
      repeats = 0;
    });
    node.connection?.on('packs', ({ added, packs }: { added: number[]; packs: number[] }) => {
      node.log(
        `bms-link ${config.port}: ${t('bms-link.log.packsAdded', { added: added.join(', '), packs: packs.join(', ') })}`,
      );
    });

    // Every frame to Node-RED's trace log, and to a capture file when asked for.
    let capture: CaptureWriter | undefined;
    if ((config.capture as unknown) === true && node.connection) {
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      const file = join(dataDir(RED), 'captures', `${config.port.replace(/[^A-Za-z0-9_-]+/g, '_')}-${stamp}.jsonl`);
      try {
        capture = new CaptureWriter(file, {
          port: config.port,
          baudRate: Number(config.baud) || 9600,
          anonymised: (config.anonymise as unknown) !== false,
          tool: 'bms-link',
        });
        node.log(`bms-link ${config.port}: ${t('bms-link.log.capturing', { file })}`);
      } catch (err) {
        node.warn(
          `bms-link ${config.port}: ${t('bms-link.errors.cannotCapture', { file, reason: errorMessage(err) })}`,
        );
      }
    }
    // Node-RED builds a log record for every trace() call whatever its level: frames are described
    // only when a logger shows trace (or a capture is on), not twice per request for nothing.
    const tracing = traceLogging(RED.settings);
    if (capture || tracing)
      node.connection?.on('wire', (event: WireEvent) => {
        capture?.record(event);
        if (tracing) node.trace(describeWireEvent(config.port, event));
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
      whenSettled(
        (node.connection?.stop() ?? Promise.resolve()).then(() => capture?.close()),
        done,
      );
    });
  }
  RED.nodes.registerType('bms-link', BmsLink);
};
