/**
 * `__name__` placeholders filled from `values`, as Node-RED's i18next fills them; a name without a
 * value stays as it is, so a missing one shows.
 */
export function fillPlaceholders(text: string, values: Readonly<Record<string, string | number | undefined>>): string {
  return text.replace(/__(\w+)__/g, (whole, name: string) => {
    const value = Object.hasOwn(values, name) ? values[name] : undefined;
    return value === undefined ? whole : String(value);
  });
}
