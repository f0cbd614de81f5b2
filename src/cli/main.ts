import { isLinkError } from '../link';
import { isFrameError } from '../protocol';
import { DECODE_USAGE, decodeCommand } from './decode';
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
  '',
  'Examples:',
  '  lfp-bms encode analog --pack 1 --dialect pace',
  '  lfp-bms decode ~25014600E00202FD35 --request ~250146900000FDA5',
  '  lfp-bms sim --packs 15 --pty /tmp/ttyBMS         (then: lfp-bms read --port /tmp/ttyBMS)',
  '  lfp-bms scan --port /dev/serial/by-id/usb-FTDI_…  --baud auto',
].join('\n');

/** Runs one CLI command and returns its exit status; errors are one line on stderr. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'decode': return decodeCommand(rest, io);
      case 'encode': return encodeCommand(rest, io);
      case 'sim': return await simCommand(rest, io);
      case 'scan': return await scanCommand(rest, io);
      case 'read': return await readCommand(rest, io);
      case undefined: case 'help': case '--help': case '-h':
        io.out(HELP);
        return command === undefined ? 2 : 0;
      default:
        throw new CliError(`unknown command "${command}" (decode, encode, sim, scan, read, help)`);
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
  return err instanceof CliError || isFrameError(err) || isLinkError(err) ||
    (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'));
}
