import { parseArgs } from 'node:util';
import {
  ALL_PACKS,
  COMMANDS,
  PARAMETER_GROUPS,
  checkParameters,
  commandNames,
  encodeRequest,
  findCommand,
  formatLocalTime,
  isDialect,
  parameterCommand,
  type Dialect,
  type Fields,
} from '../protocol';
import { CliError, parseByte, type CliIo } from './io';
import { errorMessage } from '../errors';

export const ENCODE_USAGE =
  'usage: lfp-bms encode <command> [--dialect pace|pylontech|seplos|eg4] [--pack N|all] [--address N] ' +
  "[--index N] [--code N] [--on|--off] [--time YYYY-MM-DDTHH:MM:SS|now] [--json '{…}'] [--version N]; " +
  'lfp-bms encode --list [--dialect …]';

/** Prints one request frame (without CR), or the command list. */
export function encodeCommand(args: readonly string[], io: CliIo): number {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      dialect: { type: 'string', short: 'd', default: 'pace' },
      pack: { type: 'string', short: 'p' },
      address: { type: 'string', short: 'a' },
      index: { type: 'string' },
      code: { type: 'string' },
      on: { type: 'boolean' },
      off: { type: 'boolean' },
      time: { type: 'string' },
      json: { type: 'string' },
      version: { type: 'string' },
      list: { type: 'boolean' },
    },
    allowPositionals: true,
  });
  const dialect = values.dialect;
  if (!isDialect(dialect)) throw new CliError(`unknown dialect "${dialect}" (pace, pylontech, seplos, eg4)`);
  if (values.list) {
    for (const spec of COMMANDS.filter((c) => c.dialects.includes(dialect))) {
      io.out(`${spec.name.padEnd(30)} 0x${spec.cid2.toString(16).toUpperCase()}  ${spec.summary}`);
    }
    return 0;
  }
  const [name, ...extra] = positionals;
  if (name === undefined || extra.length)
    throw new CliError(name === undefined ? 'the command is missing' : 'give exactly one command');
  const spec = findCommand(dialect, name);
  if (!spec) throw new CliError(`"${name}" is not a ${dialect} command; one of: ${commandNames(dialect).join(', ')}`);

  const params: Fields = values.json !== undefined ? parseJson(values.json) : {};
  let address = values.address !== undefined ? parseByte(values.address, '--address') : undefined;
  if (values.pack !== undefined && !spec.packAddressed) {
    // A command without a pack field reaches a pack by its address (ADR).
    if (values.pack === 'all')
      throw new CliError(`${name} has no pack field: it is sent to one pack, by --address N (or --pack N)`);
    if (address !== undefined) throw new CliError(`${name} has no pack field: give --address N or --pack N, not both`);
    address = parseByte(values.pack, '--pack');
  } else if (values.pack !== undefined) {
    params.pack = values.pack === 'all' ? ALL_PACKS : parseByte(values.pack, '--pack');
  }
  if (spec.packAddressed && params.pack === undefined) throw new CliError(`${name} needs --pack N or --pack all`);
  // A parameter write is held to the same ranges, steps and order as bms-params: no frame for a 9 V cell limit.
  const group = PARAMETER_GROUPS.find((g) => parameterCommand(g.group, 'write') === name)?.group;
  if (group !== undefined) {
    try {
      checkParameters({ [group]: params });
    } catch (err) {
      throw new CliError(`refused: ${errorMessage(err)}`);
    }
  }
  if (values.index !== undefined) params.index = parseByte(values.index, '--index', 0xffff);
  if (values.code !== undefined) params.code = parseByte(values.code, '--code');
  if (values.on && values.off) throw new CliError('give --on or --off, not both');
  if (values.on || values.off) params.on = values.on === true;
  if (values.time !== undefined) params.time = values.time === 'now' ? formatLocalTime(new Date()) : values.time;

  io.out(
    encodeRequest(name, params, {
      dialect: dialect satisfies Dialect,
      ...(address !== undefined ? { address } : {}),
      ...(values.version !== undefined ? { version: parseByte(values.version, '--version') } : {}),
    }),
  );
  return 0;
}

function parseJson(text: string): Fields {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CliError('--json is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new CliError('--json must be a JSON object');
  return value as Fields;
}
