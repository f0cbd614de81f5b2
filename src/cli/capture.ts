import { parseArgs } from 'node:util';
import { BankPoller, BmsLink, CaptureWriter, clientFor, detect, type WireEvent } from '../link';
import { CliError, parseByte, portOption, untilAborted, type CliIo } from './io';

export const CAPTURE_USAGE =
  'usage: lfp-bms capture --port <path|tcp://host:port> --out <file.jsonl> [--baud 9600] [--interval s] [--cycles N] [--anonymise]';

/**
 * Polls a bank as bms-link does — detection first — and records every frame in both directions
 * with its time, one JSON line each, until Ctrl-C or `--cycles` poll cycles. The file replays with
 * `lfp-bms sim --replay`.
 */
export async function captureCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      port: { type: 'string', short: 'p' },
      out: { type: 'string', short: 'o' },
      baud: { type: 'string', default: '9600' },
      interval: { type: 'string', default: '5' },
      cycles: { type: 'string' },
      anonymise: { type: 'boolean' },
      anonymize: { type: 'boolean' },
    },
  });
  const port = portOption(values.port);
  if (!values.out) throw new CliError('--out is missing (the capture file to write, e.g. bank.jsonl)');
  const intervalS = Number(values.interval);
  if (!Number.isFinite(intervalS) || intervalS < 0.2) throw new CliError('--interval must be at least 0.2 seconds');
  const cycles = values.cycles === undefined ? undefined : parseByte(values.cycles, '--cycles', 1_000_000);
  const baudRate = parseByte(values.baud, '--baud', 4_000_000);
  const link = BmsLink.acquire({ port: port, baudRate });
  const writer = new CaptureWriter(values.out, {
    port: port,
    baudRate,
    anonymised: values.anonymise === true || values.anonymize === true,
    tool: 'lfp-bms capture',
  });
  const record = (event: WireEvent): void => {
    writer.record(event);
  };
  link.on('wire', record);
  try {
    const detection = await detect(link);
    io.out(
      `capturing ${detection.dialect} bank (${detection.mode}, packs ${detection.packs.join(', ') || 'none'}) on ${port} to ${values.out}`,
    );
    const client = clientFor(link, detection);
    const poller = new BankPoller(client, {
      mode: detection.mode,
      packs: detection.packs,
      intervalMs: intervalS * 1000,
    });
    let done = 0;
    await new Promise<void>((resolve) => {
      poller.on('cycle', () => {
        done++;
        if (cycles !== undefined && done >= cycles) resolve();
      });
      poller.start();
      void untilAborted(io.signal).then(resolve);
    });
    await poller.stop();
    io.out(`${String(writer.count)} frame(s) in ${String(done)} poll cycle(s) written to ${values.out}`);
    return 0;
  } finally {
    link.off('wire', record);
    await writer.close();
    await link.release();
  }
}
