/**
 * Why a request to the bus failed. `timeout`: no usable reply in time; `disconnected`: the port went
 * away (everything pending fails at once); `closed`: the link was closed on purpose; `queue-full`:
 * more requests waiting than the bound; `open-failed`: the port could not be opened.
 */
export type LinkErrorKind = 'timeout' | 'disconnected' | 'closed' | 'queue-full' | 'open-failed' | 'config';

export class LinkError extends Error {
  override readonly name = 'LinkError';
  readonly kind: LinkErrorKind;

  constructor(kind: LinkErrorKind, message: string) {
    super(message);
    this.kind = kind;
  }
}

export function isLinkError(err: unknown): err is LinkError {
  return err instanceof LinkError;
}

export { asError, errorMessage } from '../errors';

/** `fn`'s result, or undefined when it timed out (what a probe expects of an absent device); other errors go on. */
export async function unlessTimeout<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (isLinkError(err) && err.kind !== 'timeout') throw err;
    return undefined;
  }
}
