import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isLinkError } from '../link';
import { isFrameError } from '../protocol';
import { CAPTURE_USAGE, captureCommand } from './capture';
import { DECODE_USAGE, decodeCommand } from './decode';
import { DIAGNOSE_USAGE, diagnoseCommand } from './diagnose';
import { ENCODE_USAGE, encodeCommand } from './encode';
import { READ_USAGE, SCAN_USAGE, readCommand, scanCommand } from './bank';
import { CliError, processIo, type CliIo } from './io';
import { SIM_USAGE, simCommand } from './sim';

const HELP = [
  'lfp-bms — PACE / Pylontech-style LiFePO4 BMS tool',
  '',
  `  ${DECODE_USAGE}`,
  `  ${ENCODE_USAGE}`,
  `  ${SIM_USAGE}`,
  `  ${SCAN_USAGE}`,
  `  ${READ_USAGE}`,
  `  ${CAPTURE_USAGE}`,
  `  ${DIAGNOSE_USAGE}`,
  '',
  'Examples:',
  '  lfp-bms encode analog --pack 1 --dialect pace',
  '  lfp-bms decode ~25014600E00202FD35 --request ~250146900000FDA5',
  '  lfp-bms sim --packs 15 --pty /tmp/ttyBMS         (then: lfp-bms read --port /tmp/ttyBMS)',
  '  lfp-bms scan --port /dev/serial/by-id/usb-FTDI_…  --baud auto',
  '  lfp-bms capture --port /dev/ttyUSB0 --out bank.jsonl --cycles 10 --anonymise   (then: lfp-bms sim --replay bank.jsonl)',
  '',
  '  lfp-bms diagnose --port /dev/ttyUSB0             (one file for a bug report)',
  '  DEBUG=lfp-bms:* lfp-bms read …   every frame and what the link made of it, on stderr',
  '',
  "  lfp-bms <command> --help   one command's options;   lfp-bms --version",
].join('\n');

const USAGES: Readonly<Record<string, string>> = {
  decode: DECODE_USAGE,
  encode: ENCODE_USAGE,
  sim: SIM_USAGE,
  scan: SCAN_USAGE,
  read: READ_USAGE,
  capture: CAPTURE_USAGE,
  diagnose: DIAGNOSE_USAGE,
};

/** This package's version, from the package.json above this file (src/ under tsx, dist/src/ when built). */
function packageVersion(): string {
  for (let dir = __dirname; dirname(dir) !== dir; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'node-red-contrib-lifepo4-bms') return pkg.version ?? 'unknown';
  }
  return 'unknown';
}

/** Runs one CLI command and returns its exit status; errors are one line on stderr. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-v' || command === 'version') {
    io.out(packageVersion());
    return 0;
  }
  const usage = command === undefined ? undefined : USAGES[command];
  if (usage && (rest.includes('--help') || rest.includes('-h'))) {
    io.out(usage);
    return 0;
  }
  try {
    switch (command) {
      case 'decode':
        return decodeCommand(rest, io);
      case 'encode':
        return encodeCommand(rest, io);
      case 'sim':
        return await simCommand(rest, io);
      case 'scan':
        return await scanCommand(rest, io);
      case 'read':
        return await readCommand(rest, io);
      case 'capture':
        return await captureCommand(rest, io);
      case 'diagnose':
        return await diagnoseCommand(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(HELP);
        return command === undefined ? 2 : 0;
      default:
        throw new CliError(
          `unknown command "${command}" (decode, encode, sim, scan, read, capture, diagnose, help, --version)`,
        );
    }
  } catch (err) {
    if (err instanceof Error && isExpected(err)) {
      io.err(`lfp-bms ${command ?? ''}: ${err.message}`.replace('  ', ' '));
      return 2;
    }
    throw err;
  }
}

/** Usage mistakes and what the bus or codec reports are one-line errors, not crashes. */
function isExpected(err: Error): boolean {
  return (
    err instanceof CliError ||
    isFrameError(err) ||
    isLinkError(err) ||
    (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))
  );
}
