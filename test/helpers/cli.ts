import { main } from '../../src/cli/main';
import type { CliIo } from '../../src/cli/io';

export interface Run {
  readonly out: string[];
  readonly err: string[];
  readonly done: Promise<number>;
  readonly stop: () => void;
  /** Resolves with the first output line matching. */
  line(pattern: RegExp): Promise<string>;
}

/** The `lfp-bms` command run in process, its output collected; `stop` is Ctrl-C. */
export function start(...argv: string[]): Run {
  const controller = new AbortController();
  const out: string[] = [];
  const err: string[] = [];
  const waiters: { pattern: RegExp; resolve: (l: string) => void }[] = [];
  const io: CliIo = {
    out: (l) => {
      out.push(l);
      for (const w of waiters.filter((x) => x.pattern.test(l))) w.resolve(l);
    },
    err: (l) => err.push(l),
    signal: controller.signal,
  };
  return {
    out,
    err,
    done: main(argv, io),
    stop: () => {
      controller.abort();
    },
    line: (pattern) => {
      const found = out.find((l) => pattern.test(l));
      return found !== undefined
        ? Promise.resolve(found)
        : new Promise((resolve) => waiters.push({ pattern, resolve }));
    },
  };
}
