import type { CaptureLine } from '../link/capture';
import type { SimExchange, SimResponder } from './bank';

/**
 * A capture served as a bank: each request is answered with the reply captured for the same
 * request, in the order they were captured (the n-th time a request comes, the n-th reply to it),
 * starting over when a request has used them all. A request that timed out in the capture stays
 * unanswered at that turn; a request never captured is never answered, as by a pack that does not
 * know it. Late, foreign and damaged frames of the capture are not replayed.
 */
export class ReplayBank implements SimResponder {
  private readonly replies = new Map<string, (string | null)[]>();
  private readonly turn = new Map<string, number>();
  /** Requests received that the capture has no reply for. */
  readonly unknown: string[] = [];
  received = 0;

  constructor(lines: readonly CaptureLine[]) {
    let asked: string | undefined;
    for (const line of lines) {
      if (line.dir === 'tx' && line.kind === 'request' && line.text) {
        asked = key(line.text);
      } else if (asked !== undefined && line.dir === 'rx' && line.kind === 'reply' && line.text) {
        this.answers(asked).push(line.text);
        asked = undefined;
      } else if (asked !== undefined && line.kind === 'timeout') {
        this.answers(asked).push(null);
        asked = undefined;
      }
    }
  }

  /** Requests the capture can answer (at least once). */
  get requests(): string[] {
    return [...this.replies].filter(([, r]) => r.some((x) => x !== null)).map(([k]) => k);
  }

  handle(text: string): SimExchange {
    this.received++;
    const k = key(text);
    const list = this.replies.get(k);
    if (!list?.length) {
      this.unknown.push(k);
      return { silentBecause: 'not in the capture' };
    }
    const n = this.turn.get(k) ?? 0;
    this.turn.set(k, (n + 1) % list.length);
    const reply = list[n];
    return reply === null || reply === undefined ? { silentBecause: 'timed out in the capture' } : { reply };
  }

  private answers(k: string): (string | null)[] {
    const list = this.replies.get(k) ?? [];
    this.replies.set(k, list);
    return list;
  }
}

/** Requests match whatever the case of their hex digits. */
const key = (text: string): string => text.trim().toUpperCase();
