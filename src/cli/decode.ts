import { parseArgs } from 'node:util';
import { decodeResponse, isDialect, type DecodeResult } from '../protocol';
import type { CliIo } from './io';
import { errorMessage } from '../errors';

export const DECODE_USAGE =
  'usage: lfp-bms decode <response> [--request <request>] [--dialect auto|pace|pylontech|seplos|eg4]';

/**
 * Prints exactly one JSON object. A reply that cannot be used (damaged, refused, wrong input)
 * still prints its `ok: false` object, says why on stderr and exits with status 2.
 */
export function decodeCommand(args: readonly string[], io: CliIo): number {
  let result: DecodeResult;
  try {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { request: { type: 'string', short: 'r' }, dialect: { type: 'string', short: 'd', default: 'auto' } },
      allowPositionals: true,
    });
    const [response, ...extra] = positionals;
    if (response === undefined || extra.length)
      throw new Error(response === undefined ? 'the response frame is missing' : 'give exactly one response frame');
    const dialect = values.dialect;
    if (dialect !== 'auto' && !isDialect(dialect)) throw new Error(`unknown dialect "${dialect}"`);
    result = decodeResponse(response.trim(), {
      dialect,
      ...(values.request !== undefined ? { request: values.request.trim() } : {}),
    });
  } catch (err) {
    const message = `${errorMessage(err)} (${DECODE_USAGE})`;
    io.out(JSON.stringify({ ok: false, error: 'usage', message, data: {} }));
    io.err(`lfp-bms decode: ${message}`);
    return 2;
  }
  io.out(JSON.stringify(result));
  if (result.note) io.err(`lfp-bms decode: note: ${result.note}`);
  if (!result.ok) {
    io.err(`lfp-bms decode: ${result.message ?? 'the reply cannot be decoded'}`);
    return 2;
  }
  return 0;
}
