/** `value` rounded half up to `decimals` places (negative decimals round to tens, hundreds …). */
export function round(value: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(value * f) / f;
}
