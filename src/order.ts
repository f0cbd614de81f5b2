/**
 * Strings in code-unit order: the same on every machine whatever its locale, and without
 * `localeCompare`, whose first call loads ICU's collator (over 2 MB of code and data mapped into
 * the process) to order alarm codes and file dates that are plain ASCII.
 */
export function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
