/** Where CLI commands write; tests pass collectors, the bin passes the process streams. */
export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** Ends long-running commands (`sim`, `read --watch`); the bin aborts it on SIGINT / SIGTERM. */
  readonly signal?: AbortSignal;
}

export function processIo(): CliIo {
  const controller = new AbortController();
  const stop = (): void => {
    controller.abort();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    signal: controller.signal,
  };
}

/** Resolves when the command should stop (never, without a signal). */
export function untilAborted(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!signal) return;
    if (signal.aborted) resolve();
    else
      signal.addEventListener(
        'abort',
        () => {
          resolve();
        },
        { once: true },
      );
  });
}

/** A usage or input problem: one line on stderr, exit status 2. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

/** `12`, `0x0C` or `0C` with --hex style prefixes; anything else is a usage error. */
export function parseByte(text: string, what: string, max = 0xff): number {
  const value = /^0x[0-9a-f]+$/i.test(text) ? parseInt(text.slice(2), 16) : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(value) || value < 0 || value > max)
    throw new CliError(`${what} must be a number from 0 to ${max} (decimal or 0x hex), not "${text}"`);
  return value;
}

/** Baud rates `--baud auto` tries: PACE consoles, some Seplos, Pylontech consoles. */
export const AUTO_BAUDS: readonly number[] = [9600, 19200, 115200];

/** The `--port` option, required. */
export function portOption(port: string | undefined): string {
  if (!port) throw new CliError('--port is missing (a serial device such as /dev/ttyUSB0, or tcp://host:port)');
  return port;
}
