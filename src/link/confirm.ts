import type { LinkSession } from './link';

/**
 * What a maintenance job trusts is what two reads in a row agree on. A reply taken for another
 * request (a late one) cannot give the same answer twice in a row, so the agreement is the proof.
 */
export class UnconfirmedError extends Error {
  override readonly name = 'UnconfirmedError';
}

/** Reads before a write that met a timeout, a late or a damaged frame: nothing is written. */
export class DisturbedError extends Error {
  override readonly name = 'DisturbedError';
}

/**
 * Reads (at most `maxReads`) until two in a row agree; a failed read breaks the run. Six reads let a
 * BMS that answers late catch up: every reply queued behind a late one is late too.
 */
export async function readUntilAgreed<T>(
  read: () => Promise<T>,
  same: (a: T, b: T) => boolean,
  what: string,
  maxReads = 6,
): Promise<T> {
  let previous: { value: T } | undefined;
  let lastError: unknown;
  for (let i = 0; i < maxReads; i++) {
    try {
      const value = await read();
      if (previous && same(previous.value, value)) return value;
      previous = { value };
    } catch (err) {
      lastError = err;
      previous = undefined;
    }
  }
  const why = lastError instanceof Error ? `: ${lastError.message}` : '';
  throw new UnconfirmedError(`${what}: no two reads in a row agreed in ${maxReads} reads${why}`);
}

/** Throws when anything disturbed the bus during the session so far (call it just before a write). */
export function requireUndisturbed(session: LinkSession): void {
  if (session.disturbances > 0) {
    throw new DisturbedError(
      'the bus was disturbed while the pack was read (a timeout, a late or a damaged reply), so nothing was written; try again',
    );
  }
}

/** Plain data compared field by field (JSON order is the decoders' own, so it is stable). */
export function sameData(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
