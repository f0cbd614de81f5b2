import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseCapture } from '../link';
import { ModbusBank, ReplayBank, SimServer, SimulatedBank, type SimResponder, type WireFaults } from '../sim';
import { CliError, parseByte, untilAborted, type CliIo } from './io';

export const SIM_USAGE =
  'usage: lfp-bms sim [--packs 1..15] [--dialect pace|pylontech|pace-modbus] [--modbus-tcp] [--tcp host:port] [--pty auto|path] [--baud 9600] ' +
  '[--latency 30] [--current A] [--tail 2|3|12|16|24] [--status-bytes 36|37|41] ' +
  '[--faults corrupt=0.05,drop=0.1,delay=200,late=0.05,lateby=1500,garbage=0.1,echo,offline=3,asleep=2] [--seed N] [--replay capture.jsonl]';

/** Runs a simulated bank until interrupted. */
export async function simCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      packs: { type: 'string', default: '3' },
      dialect: { type: 'string', default: 'pace' },
      tcp: { type: 'string', default: '127.0.0.1:4001' },
      pty: { type: 'string' },
      baud: { type: 'string', default: '9600' },
      latency: { type: 'string', default: '30' },
      current: { type: 'string', default: '-20' },
      faults: { type: 'string', default: '' },
      tail: { type: 'string', default: '3' },
      'status-bytes': { type: 'string', default: '37' },
      seed: { type: 'string', default: '1' },
      replay: { type: 'string' },
      'modbus-tcp': { type: 'boolean' },
    },
    allowPositionals: false,
  });
  const ptyArg = values.pty === 'auto' ? true : values.pty;
  const packs = parseByte(values.packs, '--packs', 15);
  if (packs < 1) throw new CliError('--packs must be 1 to 15');
  if (values.dialect !== 'pace' && values.dialect !== 'pylontech' && values.dialect !== 'pace-modbus')
    throw new CliError('--dialect must be pace, pylontech or pace-modbus');
  const mbap = values['modbus-tcp'] === true;
  if (mbap && values.dialect !== 'pace-modbus') throw new CliError('--modbus-tcp needs --dialect pace-modbus');
  if (mbap && ptyArg) throw new CliError('--modbus-tcp frames for a TCP gateway: a pty carries RTU, leave --pty out');
  const [host, portText] = splitHostPort(values.tcp);
  const current = Number(values.current);
  if (!Number.isFinite(current))
    throw new CliError('--current must be a number of amperes (+ charging, − discharging)');
  const { wire, offline, asleep } = parseFaults(values.faults, packs);
  const tail = Number(values.tail);
  if (tail !== 2 && tail !== 3 && tail !== 12 && tail !== 16 && tail !== 24)
    throw new CliError('--tail must be 2, 3, 12, 16 or 24 (bytes after the 0x42 cycle counter)');
  const statusBytes = Number(values['status-bytes']);
  if (statusBytes !== 36 && statusBytes !== 37 && statusBytes !== 41)
    throw new CliError('--status-bytes must be 36, 37 or 41 (bytes per pack in a 0x44 reply)');
  let bank: SimResponder;
  let what: string;
  if (values.replay) {
    const replay = replayOf(values.replay);
    bank = replay;
    what = `replay of ${values.replay}: ${String(replay.requests.length)} request(s) with captured replies`;
  } else {
    const simulated = new SimulatedBank({
      packs,
      dialect: values.dialect === 'pylontech' ? 'pylontech' : 'pace',
      current,
      seed: parseByte(values.seed, '--seed', 2 ** 31),
      analogTailBytes: tail,
      alarmBlockBytes: statusBytes,
    });
    for (const n of offline) simulated.setOffline(n, true);
    for (const n of asleep) simulated.setAsleep(n, true);
    bank = values.dialect === 'pace-modbus' ? new ModbusBank(simulated, { framing: mbap ? 'mbap' : 'rtu' }) : simulated;
    what =
      values.dialect === 'pace-modbus'
        ? `simulated PACE Modbus bus of ${String(packs)} pack(s) at addresses 1..${String(packs)}${mbap ? ' behind a Modbus-TCP gateway' : ''}`
        : `simulated ${values.dialect} bank of ${String(packs)} pack(s)`;
  }
  const server = new SimServer({
    bank,
    host,
    port: parseByte(portText, 'TCP port', 65535),
    baudRate: parseByte(values.baud, '--baud', 4_000_000),
    latencyMs: parseByte(values.latency, '--latency', 60_000),
    faults: wire,
    ...(ptyArg ? { pty: ptyArg } : {}),
  });
  const endpoints = await server.start().catch((err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE')
      throw new CliError(`TCP port ${portText} is already in use: choose another with --tcp host:port`);
    throw err;
  });
  io.out(`${what}, ${String(server.baudRate)} Bd, ${String(server.latencyMs)} ms latency`);
  io.out(`  tcp: ${mbap ? endpoints.tcp.replace(/^tcp:/, 'modbus-tcp:') : endpoints.tcp}`);
  if (endpoints.pty) io.out(`  pty: ${endpoints.pty}`);
  io.out('stop with Ctrl-C');
  await untilAborted(io.signal);
  await server.stop();
  io.out(`stopped after ${server.stats.requests} request(s)`);
  return 0;
}

/** A capture file as a bank; a usage error names the file and line that is wrong. */
function replayOf(file: string): ReplayBank {
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let replay: ReplayBank;
  try {
    replay = new ReplayBank(parseCapture(content).lines);
  } catch (err) {
    throw new CliError(`${file}: ${(err as Error).message}`);
  }
  if (!replay.requests.length) throw new CliError(`${file} holds no request with a reply: nothing to replay`);
  return replay;
}

function splitHostPort(text: string): [string, string] {
  const match = /^(.*):(\d+)$/.exec(text);
  if (!match) throw new CliError(`--tcp must be host:port, not "${text}"`);
  return [match[1] || '127.0.0.1', match[2] ?? ''];
}

export function parseFaults(
  text: string,
  packs: number,
): { wire: Partial<WireFaults>; offline: number[]; asleep: number[] } {
  const wire: Partial<WireFaults> = {};
  const offline: number[] = [];
  const asleep: number[] = [];
  for (const item of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [name, value = ''] = item.split('=');
    const rate = (): number => {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0 || n > 1) throw new CliError(`fault ${name ?? ''} needs a rate from 0 to 1`);
      return n;
    };
    const pack = (): number => {
      const n = parseByte(value, `fault ${name ?? ''}`, 15);
      if (n < 1 || n > packs) throw new CliError(`fault ${name ?? ''}: no pack ${n}`);
      return n;
    };
    switch (name) {
      case 'corrupt':
        wire.corruptRate = rate();
        break;
      case 'drop':
        wire.dropRate = rate();
        break;
      case 'garbage':
        wire.garbageRate = rate();
        break;
      case 'delay':
        wire.delayMs = parseByte(value, 'fault delay', 60_000);
        break;
      case 'late':
        wire.lateRate = rate();
        wire.lateMs ??= 1500;
        break;
      case 'lateby':
        wire.lateMs = parseByte(value, 'fault lateby', 60_000);
        break;
      case 'echo':
        wire.echo = true;
        break;
      case 'offline':
        offline.push(pack());
        break;
      case 'asleep':
        asleep.push(pack());
        break;
      default:
        throw new CliError(
          `unknown fault "${item}" (corrupt, drop, garbage, delay, late, lateby, echo, offline, asleep)`,
        );
    }
  }
  return { wire, offline, asleep };
}
