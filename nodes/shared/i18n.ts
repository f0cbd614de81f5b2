import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fillPlaceholders } from '../../src/placeholders';

/** This package's name: Node-RED files each node set's message catalog under `<package>/<node type>`. */
export const PACKAGE = 'node-red-contrib-lifepo4-bms';

/**
 * Names Node-RED's i18next reads as options of the lookup, not as values: `count` makes it build an
 * `Intl.PluralRules` (and with it maps several MB of ICU's code and data into the process), `lng` or
 * `ns` would look the text up elsewhere. A placeholder is never named after one of them.
 */
export const I18NEXT_OPTIONS = [
  'count',
  'context',
  'ordinal',
  'defaultValue',
  'lng',
  'lngs',
  'fallbackLng',
  'ns',
  'replace',
  'interpolation',
  'returnObjects',
  'returnDetails',
  'joinArrays',
  'postProcess',
  'keySeparator',
  'nsSeparator',
] as const;

export type TextVars = Readonly<Record<string, string | number>> & {
  readonly [option in (typeof I18NEXT_OPTIONS)[number]]?: never;
};

/**
 * A runtime text by key, `<node type>.<section>.<name>` (e.g. `bms-link.errors.noPort`): the key's
 * first part names the catalog (`nodes/<type>/locales/<lang>/<type>.json`) that holds it, so a text
 * one node shares with others (writes off, pack lists) lives once.
 */
export type Texts = (key: string, vars?: TextVars) => string;

/** Node-RED's translate function (`RED._`), as far as this package uses it. */
export type Translate = (key: string, vars?: TextVars) => string;

const catalogs = new Map<string, unknown>();

function catalog(type: string): unknown {
  let found = catalogs.get(type);
  if (found === undefined) {
    if (!/^bms-[a-z]+$/.test(type)) return {};
    try {
      found = JSON.parse(readFileSync(join(__dirname, '..', type, 'locales', 'en-US', `${type}.json`), 'utf8'));
    } catch {
      found = {};
    }
    catalogs.set(type, found);
  }
  return found;
}

function lookup(key: string): string | undefined {
  let at: unknown = catalog(key.slice(0, key.indexOf('.')));
  for (const part of key.split('.')) {
    if (typeof at !== 'object' || at === null || !Object.hasOwn(at, part)) return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return typeof at === 'string' ? at : undefined;
}

/**
 * The en-US texts straight from the catalogs: for code that runs without Node-RED (the parsers'
 * own tests) and the fallback when the runtime has no catalog (node-red-node-test-helper registers
 * none, so its `RED._` hands the key back). A missing key comes back as itself.
 */
export const englishTexts: Texts = (key, vars) => fillPlaceholders(lookup(key) ?? key, vars ?? {});

/**
 * Texts through Node-RED's `RED._` (the user's language, falling back to en-US as Node-RED does),
 * and through the en-US catalog when the runtime returns the key untranslated.
 */
export function runtimeTexts(translate: Translate): Texts {
  // A status text is asked for on every poll, mostly with the values of the poll before, and
  // i18next's lookup costs more than the rest of a status update: the last text per key is kept.
  const last = new Map<string, { vars: TextVars | undefined; text: string }>();
  return (key, vars) => {
    const kept = last.get(key);
    if (kept && sameVars(kept.vars, vars)) return kept.text;
    const full = `${PACKAGE}/${key.slice(0, key.indexOf('.'))}:${key}`;
    const translated = translate(full, vars);
    const text = translated === full || translated === key ? englishTexts(key, vars) : translated;
    last.set(key, { vars: vars ? { ...vars } : undefined, text });
    return text;
  };
}

function sameVars(a: TextVars | undefined, b: TextVars | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const names = Object.keys(b);
  return names.length === Object.keys(a).length && names.every((name) => Object.hasOwn(a, name) && a[name] === b[name]);
}
