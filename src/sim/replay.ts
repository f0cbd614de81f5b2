import type { CaptureLine } from '../link/capture';
import { decodeRtuRequest } from '../protocol';
import type { SimExchange, SimResponder } from './bank';

const HEX_FRAME = /^[0-9A-F]{2}( [0-9A-F]{2})+$/i;

/** How a captured request travelled: an ASCII frame, a Modbus RTU frame (its CRC holds) or an MBAP one. */
function framingOf(text: string): 'ascii' | 'rtu' | 'mbap' {
  if (!HEX_FRAME.test(text.trim())) return 'ascii';
  try {
    decodeRtuRequest(
      Uint8Array.from(
        text
          .trim()
          .split(' ')
          .map((b) => parseInt(b, 16)),
      ),
    );
    return 'rtu';
  } catch {
    return 'mbap';
  }
}

/**
 * A capture served as a bank: each request is answered with the reply captured for the same
 * request, in the order they were captured (the n-th time a request comes, the n-th reply to it),
 * starting over when a request has used them all. A request that timed out in the capture stays
 * unanswered at that turn; a request never captured is never answered, as by a pack that does not
 * know it. Late, foreign and damaged frames of the capture are not replayed.
 */
export class ReplayBank implements SimResponder {
  /** As the capture's requests travelled (Modbus captures hold hex bytes). */
  readonly framing: 'ascii' | 'rtu' | 'mbap';
  private readonly replies = new Map<string, (string | null)[]>();
  private readonly turn = new Map<string, number>();
  /** Requests received that the capture has no reply for. */
  readonly unknown: string[] = [];
  received = 0;

  constructor(lines: readonly CaptureLine[]) {
    const first = lines.find((l) => l.dir === 'tx' && l.kind === 'request' && l.text)?.text;
    this.framing = first === undefined ? 'ascii' : framingOf(first);
    let asked: string | undefined;
    for (const line of lines) {
      if (line.dir === 'tx' && line.kind === 'request' && line.text) {
        asked = this.key(line.text);
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
    const k = this.key(text);
    const list = this.replies.get(k);
    if (!list?.length) {
      this.unknown.push(k);
      return { silentBecause: 'not in the capture' };
    }
    const n = this.turn.get(k) ?? 0;
    this.turn.set(k, (n + 1) % list.length);
    const reply = list[n];
    if (reply === null || reply === undefined) return { silentBecause: 'timed out in the capture' };
    if (this.framing === 'ascii') return { reply };
    // Modbus replies go out as bytes; an MBAP reply carries the transaction of the request it answers now.
    const bytes = reply
      .trim()
      .split(' ')
      .map((b) => parseInt(b, 16));
    if (this.framing === 'mbap')
      bytes.splice(
        0,
        2,
        ...text
          .trim()
          .split(' ')
          .slice(0, 2)
          .map((b) => parseInt(b, 16)),
      );
    return { reply: String.fromCharCode(...bytes) };
  }

  /** Requests match whatever the case of their hex digits; MBAP requests whatever their transaction. */
  private key(text: string): string {
    const k = text.trim().toUpperCase();
    return this.framing === 'mbap' ? k.slice(6) : k;
  }

  private answers(k: string): (string | null)[] {
    const list = this.replies.get(k) ?? [];
    this.replies.set(k, list);
    return list;
  }
}
