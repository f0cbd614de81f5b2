import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  BankPoller,
  clientFor,
  BmsLink,
  buildDiagnosis,
  describeDiagnosis,
  detect,
  type Detection,
  type WireEvent,
} from '../link';
import { AUTO_BAUDS, parseByte, portOption, type CliIo } from './io';

export const DIAGNOSE_USAGE =
  'usage: lfp-bms diagnose --port <path|tcp://host:port> [--baud 9600|auto] [--cycles 3] [--out file.json] [--keep-serials] [--addresses]';

/**
 * Probes a port as bms-link would — baud rate, dialect, mode, packs, identity — polls it a few
 * times, and writes one JSON file for a bug report: timing per command, late and damaged frames,
 * replies that did not decode and why, status bits without a name, and every frame (serials
 * scrambled unless --keep-serials).
 */
export async function diagnoseCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      port: { type: 'string', short: 'p' },
      baud: { type: 'string', default: 'auto' },
      cycles: { type: 'string', default: '3' },
      out: { type: 'string', short: 'o' },
      'keep-serials': { type: 'boolean' },
      addresses: { type: 'boolean' },
    },
  });
  const port = portOption(values.port);
  const bauds = values.baud === 'auto' ? AUTO_BAUDS : [parseByte(values.baud, '--baud', 4_000_000)];
  const cycles = parseByte(values.cycles, '--cycles', 100);
  const out = values.out ?? `lfp-bms-diagnose-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  const events: WireEvent[] = [];
  const silentAt: number[] = [];
  let detection: Detection | null = null;
  let link: BmsLink | undefined;
  const record = (e: WireEvent): void => {
    events.push(e);
  };
  try {
    for (const baudRate of bauds) {
      io.out(`trying ${String(baudRate)} Bd …`);
      link = BmsLink.acquire({ port, baudRate });
      link.on('wire', record);
      try {
        // --addresses: every address 0–15 asked one by one too (slow where packs are missing).
        detection = await detect(link, { scanAddresses: values.addresses === true });
        break;
      } catch {
        silentAt.push(baudRate);
        link.off('wire', record);
        await link.release();
        link = undefined;
      }
    }
    if (link && detection) {
      const client = clientFor(link, detection);
      const poller = new BankPoller(client, { mode: detection.mode, packs: detection.packs, intervalMs: 1000 });
      for (let i = 0; i < cycles; i++) {
        io.out(`poll ${String(i + 1)} of ${String(cycles)} …`);
        await poller.pollNow();
      }
      await poller.stop();
    }
    const bundle = buildDiagnosis({
      tool: 'lfp-bms diagnose',
      port,
      baudRate: detection?.baudRate ?? bauds[0] ?? 9600,
      detection,
      silentAt,
      events,
      linkStats: link ? { ...link.stats } : null,
      anonymise: values['keep-serials'] !== true,
    });
    writeFileSync(out, `${JSON.stringify(bundle, null, 2)}\n`);
    for (const line of describeDiagnosis(bundle)) io.out(line);
    io.out(`written to ${out}${bundle.anonymised ? ' (serial numbers scrambled)' : ''}: attach it to a bug report`);
    return detection ? 0 : 1;
  } finally {
    link?.off('wire', record);
    await link?.release();
  }
}
