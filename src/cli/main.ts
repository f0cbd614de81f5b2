import { isFrameError } from '../protocol';
import { DECODE_USAGE, decodeCommand } from './decode';
import { ENCODE_USAGE, encodeCommand } from './encode';
import { CliError, processIo, type CliIo } from './io';

const HELP = [
  'lfp-bms — PACE / Pylontech-style LiFePO4 BMS tool',
  '',
  `  ${DECODE_USAGE}`,
  `  ${ENCODE_USAGE}`,
  '',
  'Examples:',
  '  lfp-bms encode analog --pack 1 --dialect pace',
  '  lfp-bms decode ~25014600E00202FD35 --request ~250146900000FDA5',
].join('\n');

/** Runs one CLI command and returns its exit status; errors are one line on stderr. */
export function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'decode': return Promise.resolve(decodeCommand(rest, io));
      case 'encode': return Promise.resolve(encodeCommand(rest, io));
      case undefined: case 'help': case '--help': case '-h':
        io.out(HELP);
        return Promise.resolve(command === undefined ? 2 : 0);
      default:
        throw new CliError(`unknown command "${command}" (decode, encode, help)`);
    }
  } catch (err) {
    if (err instanceof CliError || isFrameError(err) || (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
      io.err(`lfp-bms ${command ?? ''}: ${err.message}`.replace('  ', ' '));
      return Promise.resolve(2);
    }
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}
