import { parseArgs } from 'node:util';
import {
  BankPoller,
  clientFor,
  BmsLink,
  detect,
  detectPort,
  packPayload,
  type Detection,
  type PackReading,
} from '../link';
import { ALL_PACKS, DIALECT_PROFILES } from '../protocol';
import { AUTO_BAUDS, CliError, parseByte, portOption, untilAborted, type CliIo } from './io';

export const SCAN_USAGE =
  'usage: lfp-bms scan --port <path|tcp://host:port|modbus-tcp://host:port> [--baud 9600|19200|115200|auto] [--dialect auto|pace-modbus] [--addresses] [--json]';
export const READ_USAGE =
  'usage: lfp-bms read --port <path|tcp://host:port|modbus-tcp://host:port> [--pack N|all] [--watch] [--interval s] [--baud N] [--dialect auto|pace-modbus] [--json]';

/** What is on the bus: dialect, mode, packs, firmware. */
export async function scanCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      port: { type: 'string', short: 'p' },
      baud: { type: 'string', default: '9600' },
      addresses: { type: 'boolean' },
      dialect: { type: 'string', default: 'auto' },
      json: { type: 'boolean' },
    },
  });
  const port = portOption(values.port);
  const baudRates = values.baud === 'auto' ? AUTO_BAUDS : [parseByte(values.baud, '--baud', 4_000_000)];
  const detection = await detectPort({
    port,
    baudRates,
    scanAddresses: values.addresses === true,
    retries: 0,
    ...protocolOption(values.dialect),
  });
  if (values.json) io.out(JSON.stringify(detection));
  else for (const line of describeDetection(port, detection)) io.out(line);
  return 0;
}

export function describeDetection(port: string, d: Detection): string[] {
  const profile = d.dialect === 'pace-modbus' ? undefined : DIALECT_PROFILES[d.dialect];
  const claims =
    profile && (d.version !== profile.version || d.cid1 !== profile.cid1)
      ? ` (the packs claim VER ${hex(d.version)}, CID1 ${hex(d.cid1)})`
      : '';
  return [
    `${port} at ${d.baudRate} Bd: ${d.dialect} ${profile ? 'dialect' : 'protocol'}${claims}, first answer from address ${d.responderAddress}`,
    `mode: ${d.mode === 'broadcast' ? 'broadcast (the master reports every pack)' : profile ? 'relay (pack by pack)' : 'pack by pack, each at its own address'}`,
    `packs: ${d.packs.join(', ') || 'none'}${d.offlinePacks.length ? `; reported unreachable: ${d.offlinePacks.join(', ')}` : ''}`,
    ...(d.firmware ? [`firmware: ${d.firmware}`] : []),
    ...(d.serial ? [`serial: ${d.serial}`] : []),
  ];
}

/** Read the bank once, or keep reading with --watch. */
export async function readCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      port: { type: 'string', short: 'p' },
      pack: { type: 'string', default: 'all' },
      watch: { type: 'boolean' },
      interval: { type: 'string', default: '5' },
      baud: { type: 'string', default: '9600' },
      dialect: { type: 'string', default: 'auto' },
      json: { type: 'boolean' },
    },
  });
  const port = portOption(values.port);
  const protocol = protocolOption(values.dialect);
  const only = values.pack === 'all' ? undefined : parseByte(values.pack, '--pack', ALL_PACKS - 1);
  const intervalS = Number(values.interval);
  if (!Number.isFinite(intervalS) || intervalS < 0.2) throw new CliError('--interval must be at least 0.2 seconds');
  const link = BmsLink.acquire({ port, baudRate: parseByte(values.baud, '--baud', 4_000_000) });
  try {
    const detection = await detect(link, protocol);
    const packs = detection.mode === 'relay' && only !== undefined ? [only] : detection.packs;
    if (only !== undefined && !detection.packs.includes(only))
      throw new CliError(`pack ${only} did not answer (found: ${detection.packs.join(', ') || 'none'})`);
    const client = clientFor(link, detection);
    const poller = new BankPoller(client, {
      mode: detection.mode,
      packs,
      intervalMs: intervalS * 1000,
      identity: !values.json,
    });
    const show = (readings: readonly PackReading[]): void => {
      for (const reading of readings.filter((r) => only === undefined || r.pack === only)) {
        if (values.json) io.out(JSON.stringify(packPayload(reading)));
        else for (const line of describeReading(reading)) io.out(line);
      }
    };
    const first = (await poller.pollNow()).packs;
    show(first);
    // A pack that does not answer is said, never left out: on stderr, and the exit status is 1.
    const silent = [...new Set([...detection.offlinePacks, ...first.filter((r) => !r.online).map((r) => r.pack)])]
      .filter((n) => only === undefined || n === only)
      .sort((a, b) => a - b);
    for (const n of silent)
      io.err(`lfp-bms read: pack ${n} is not answering (the master reports it unreachable or it did not reply)`);
    if (!values.watch) return silent.length ? 1 : 0;
    poller.on('cycle', (cycle: { packs: readonly PackReading[] }) => {
      show(cycle.packs);
    });
    poller.start();
    await untilAborted(io.signal);
    await poller.stop();
    return 0;
  } finally {
    await link.release();
  }
}

export function describeReading(r: PackReading): string[] {
  const a = r.analog;
  const head = `pack ${r.pack}  ${r.online ? 'online' : r.status}${r.error && !r.online ? ` (${r.error})` : ''}`;
  if (!a) return [head];
  const cells = a.cellVoltages;
  const min = Math.min(...cells);
  const max = Math.max(...cells);
  const lines = [
    `${head}  SOC ${a.soc ?? '?'} %  ${a.voltage.toFixed(3)} V  ${a.current.toFixed(2)} A  ${a.remainingAh}/${a.fullAh} Ah  cycles ${a.cycles}${a.soh !== null ? `  SOH ${a.soh} %` : ''}${r.ageMs !== null && r.ageMs > 5000 ? `  (${(r.ageMs / 1000).toFixed(1)} s old)` : ''}`,
    `  cells  ${cells.map((v) => v.toFixed(3)).join(' ')}`,
    `         min ${min.toFixed(3)} V (#${cells.indexOf(min) + 1})  max ${max.toFixed(3)} V (#${cells.indexOf(max) + 1})  spread ${Math.round((max - min) * 1000)} mV`,
    `  temps  ${a.temperatures.map((t) => (t === null ? '--' : t.toFixed(1))).join(' ')} °C`,
  ];
  const s = r.alarms;
  if (s) {
    const list = (codes: readonly string[]): string => (codes.length ? codes.join(' ') : 'none');
    const mos = (on: boolean | null): string => (on === null ? '?' : on ? 'on' : 'off');
    lines.push(`  alarms ${list(s.alarms)} | protections ${list(s.protections)} | faults ${list(s.faults)}`);
    lines.push(
      `  MOSFETs charge ${mos(s.chargeMos)}, discharge ${mos(s.dischargeMos)}${s.balancingCells.length ? ` | balancing cells ${s.balancingCells.join(', ')}` : ''}`,
    );
  }
  if (r.identity?.firmware || r.identity?.serial)
    lines.push(`  firmware ${r.identity.firmware ?? '?'}  serial ${r.identity.serial ?? '?'}`);
  return lines;
}

function hex(value: number): string {
  return value.toString(16).toUpperCase().padStart(2, '0');
}

/** `--dialect`: detect everything (auto), or look for PACE Modbus packs only. */
function protocolOption(value: string | undefined): { protocol?: 'pace-modbus' } {
  if (value === undefined || value === 'auto') return {};
  if (value === 'pace-modbus') return { protocol: 'pace-modbus' };
  throw new CliError('--dialect must be auto or pace-modbus (the ASCII dialects are detected)');
}
