/**
 * What crossed the wire, as the link saw it: a request sent, and every frame heard with what the
 * link made of it. The input of capture files, `DEBUG=lfp-bms:frames` and Node-RED's trace log.
 */
export interface WireEvent {
  /** ms since the epoch. */
  readonly at: number;
  readonly dir: 'tx' | 'rx' | 'none';
  /**
   * request: sent; reply: taken as the answer; late: heard while nothing was asked; foreign: heard
   * but not the answer to the request waiting (a late one, another device); damaged: a frame that
   * failed its checks; timeout: no reply in time.
   */
  readonly kind: 'request' | 'reply' | 'late' | 'foreign' | 'damaged' | 'timeout';
  /** The frame as text (`~…`, without the CR). */
  readonly text?: string;
  /** For damaged frames and timeouts: what was wrong. */
  readonly error?: string;
  /** For replies: ms from the request's last byte sent to the reply's last byte heard. */
  readonly ms?: number;
}

/** One line per wire event, as `lfp-bms:frames` and Node-RED's trace log show it. */
export function describeWireEvent(port: string, e: WireEvent): string {
  const arrow = e.dir === 'tx' ? '>' : e.dir === 'rx' ? '<' : '-';
  const detail = [e.ms !== undefined ? `${String(e.ms)} ms` : '', e.error ?? ''].filter(Boolean).join(', ');
  return `${port} ${arrow} ${e.kind}${e.text ? ` ${e.text}` : ''}${detail ? ` (${detail})` : ''}`;
}
