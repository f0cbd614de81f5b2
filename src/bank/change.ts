/**
 * Whether `next` differs from `previous` enough to send: any change of a non-number (online state,
 * alarm codes, MOSFETs), or a number moving by more than `deadband` in its own unit (V, A, °C, %, Ah).
 */
export function changedBeyond(previous: unknown, next: unknown, deadband: number): boolean {
  if (typeof previous === 'number' && typeof next === 'number') return Math.abs(next - previous) > deadband;
  if (Array.isArray(previous) && Array.isArray(next)) {
    return previous.length !== next.length || next.some((v, i) => changedBeyond(previous[i], v, deadband));
  }
  if (isRecord(previous) && isRecord(next)) {
    const keys = new Set([...Object.keys(previous), ...Object.keys(next)]);
    for (const key of keys) {
      // The age of the data grows every cycle by itself; it is not a change of the battery.
      if (key === 'ageMs') continue;
      if (changedBeyond(previous[key], next[key], deadband)) return true;
    }
    return false;
  }
  return previous !== next;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
