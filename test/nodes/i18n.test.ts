import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { I18NEXT_OPTIONS, PACKAGE, englishTexts, runtimeTexts, type TextVars } from '../../nodes/shared/i18n';
import { startNodeRed, type RunningRed } from '../helpers/red-process';

const root = path.resolve(__dirname, '../..');
const nodesDir = path.join(root, 'nodes');
const types = fs.readdirSync(nodesDir).filter((d) => d.startsWith('bms-'));

/** Every key of a catalog with its text, as `bms-x.section.name`. */
function flatten(value: unknown, prefix: string, into: Map<string, string>): Map<string, string> {
  if (typeof value === 'string') into.set(prefix, value);
  else if (typeof value === 'object' && value !== null)
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, into);
  return into;
}

/** Each node type's en-US catalog as the file has it. */
const catalogs = new Map<string, unknown>(
  types.map((type) => [
    type,
    JSON.parse(fs.readFileSync(path.join(nodesDir, type, 'locales', 'en-US', `${type}.json`), 'utf8')),
  ]),
);
const catalog = new Map<string, string>();
for (const texts of catalogs.values()) flatten(texts, '', catalog);

const sources = (ext: string): string =>
  fs
    .readdirSync(nodesDir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith(ext))
    .map((f) => fs.readFileSync(path.join(nodesDir, f), 'utf8'))
    .join('\n');
const code = sources('.ts');
const html = sources('.html');

/** Keys the runtime code asks for: literal ones, and templated ones as patterns. */
const literalKeys = [...code.matchAll(/'(bms-[a-z]+\.\w+\.[\w.]+)'/g)].map((m) => m[1] ?? '');
const templateKeys = [...code.matchAll(/`(bms-[a-z]+\.[^`]*\$\{[^`]+)`/g)].map(
  (m) => new RegExp(`^${(m[1] ?? '').replace(/\./g, '\\.').replace(/\$\{[^}]+\}/g, '\\w*')}$`),
);
const editorKeys = [
  ...[...html.matchAll(/data-i18n="([^"]+)"/g)]
    .flatMap((m) => (m[1] ?? '').split(';').map((k) => k.replace(/^\[\w+\]/, '')))
    .filter((k) => k.startsWith('bms-')),
  ...[...html.matchAll(/_\(["'](bms-[\w.-]+)["']/g)].map((m) => m[1] ?? ''),
];

const placeholders = (text: string): string[] => [...text.matchAll(/__(\w+)__/g)].map((m) => m[1] ?? '').sort();

describe('runtime texts: every status and error text a node shows comes from its en-US catalog', () => {
  it('every key the nodes ask for is in a catalog, and every catalog text is asked for', () => {
    assert.ok(literalKeys.length > 80, `found ${String(literalKeys.length)} runtime keys`);
    for (const key of [...literalKeys, ...editorKeys]) assert.ok(catalog.has(key), `${key} is in no catalog`);
    for (const pattern of templateKeys)
      assert.ok(
        [...catalog.keys()].some((k) => pattern.test(k)),
        `${String(pattern)} matches no catalog key`,
      );
    const asked = new Set([...literalKeys, ...editorKeys]);
    const unused = [...catalog.keys()].filter((k) => !asked.has(k) && !templateKeys.some((p) => p.test(k)));
    assert.deepEqual(unused, [], 'catalog texts nothing shows');
  });

  it('every call fills exactly the placeholders its text has', () => {
    let checked = 0;
    for (const m of code.matchAll(/\bt\('(bms-[\w.-]+)'(?:,\s*\{([^{}]*)\})?\)/g)) {
      const [, key = '', vars] = m;
      if (vars?.includes('...')) continue;
      // Top-level names: `name: value` or the shorthand `name`.
      const given = [...(vars ?? '').matchAll(/(?:^|,)\s*(\w+)\s*(?=[:,]|$)/g)].map((v) => v[1] ?? '').sort();
      assert.deepEqual(given, placeholders(catalog.get(key) ?? ''), `t('${key}', …)`);
      checked++;
    }
    assert.ok(checked > 60, `checked ${String(checked)} calls`);
  });

  it("no text makes Node-RED's i18next build plural rules (several MB of ICU mapped in): no placeholder is named after one of its options", async () => {
    for (const [key, text] of catalog)
      for (const name of placeholders(text))
        assert.ok(!(I18NEXT_OPTIONS as readonly string[]).includes(name), `${key}: __${name}__ is an i18next option`);

    // The i18next Node-RED runs, set up as Node-RED sets it up, asked for every text filled.
    const i18nextPath = require.resolve('i18next', { paths: [require.resolve('@node-red/util')] });
    // A CommonJS module without types here: only createInstance, init and t are used.
    const { default: i18next } = (await import(i18nextPath)) as {
      default: {
        createInstance(): {
          init(options: object): Promise<unknown>;
          t(key: string, vars?: object): string;
        };
      };
    };
    const instance = i18next.createInstance();
    const resources = Object.fromEntries([...catalogs].map(([type, texts]) => [`${PACKAGE}/${type}`, texts]));
    await instance.init({
      lng: 'en-US',
      fallbackLng: 'en-US',
      resources: { 'en-US': resources },
      keySeparator: '.',
      nsSeparator: ':',
      interpolation: { escapeValue: false, prefix: '__', suffix: '__' },
      showSupportNotice: false,
    });
    // Intl's members are writable at run time; the lib types say read-only.
    const intl = Intl as { PluralRules: typeof Intl.PluralRules };
    const original = intl.PluralRules;
    let built = 0;
    intl.PluralRules = new Proxy(original, {
      construct(target, args: ConstructorParameters<typeof Intl.PluralRules>) {
        built++;
        return new target(...args);
      },
    });
    try {
      const t = runtimeTexts((key, vars) => instance.t(key, vars));
      for (const [key, text] of catalog) {
        const vars = Object.fromEntries(placeholders(text).map((name) => [name, 2]));
        assert.equal(t(key, vars), englishTexts(key, vars), key);
      }
      assert.equal(built, 0, 'plural rules built');
      // What a `count` does.
      instance.t(`${PACKAGE}/bms-pack:bms-pack.status.packs`, { online: 1, count: 2 });
      assert.equal(built, 1);
    } finally {
      intl.PluralRules = original;
    }
  });

  it('en-US: a key becomes its text with the placeholders filled; an unknown key or placeholder stays visible', () => {
    assert.equal(englishTexts('bms-pack.status.packs', { online: 2, packs: 3 }), '2/3 packs online');
    assert.equal(englishTexts('bms-link.range.timeout'), 'timeout');
    assert.equal(englishTexts('bms-pack.status.packs', { online: 2 }), '2/__packs__ packs online');
    assert.equal(englishTexts('bms-pack.status.nothing'), 'bms-pack.status.nothing');
    // Prototype keys are no texts.
    assert.equal(englishTexts('bms-pack.__proto__'), 'bms-pack.__proto__');
    assert.equal(englishTexts('bms-pack.label.toString'), 'bms-pack.label.toString');
  });

  it("through RED._: the runtime's translation wins, its namespace is the node set's, and an untranslated key falls back to en-US", () => {
    const asked: string[] = [];
    // What Node-RED's i18next gives for a user whose language has a catalog with one text.
    const translate = (key: string, vars?: TextVars): string => {
      asked.push(key);
      if (key === `${PACKAGE}/bms-pack:bms-pack.status.packs`)
        return `${String(vars?.online)}/${String(vars?.packs)} Packs online`;
      return key.slice(key.indexOf(':') + 1);
    };
    const t = runtimeTexts(translate);
    assert.equal(t('bms-pack.status.packs', { online: 1, packs: 2 }), '1/2 Packs online');
    assert.equal(t('bms-pack.status.noData'), 'no data');
    assert.equal(t('bms-link.common.noLink'), 'no bms-link configured');
    assert.deepEqual(asked, [
      `${PACKAGE}/bms-pack:bms-pack.status.packs`,
      `${PACKAGE}/bms-pack:bms-pack.status.noData`,
      `${PACKAGE}/bms-link:bms-link.common.noLink`,
    ]);
    // node-red-node-test-helper's RED._ hands back what it is given.
    assert.equal(runtimeTexts((key) => key)('bms-pack.status.noData'), 'no data');
    assert.equal(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).name, PACKAGE);
  });

  it('asks RED._ again only when the key or a value changed since the last text for that key', () => {
    const asked: string[] = [];
    const t = runtimeTexts((key, vars) => {
      asked.push(`${key.slice(key.indexOf(':') + 1)} ${JSON.stringify(vars ?? null)}`);
      return key.slice(key.indexOf(':') + 1);
    });
    const packs = (online: number, packs: number): string => t('bms-pack.status.packs', { online, packs });
    assert.equal(packs(1, 2), '1/2 packs online');
    assert.equal(packs(1, 2), '1/2 packs online');
    assert.equal(packs(2, 2), '2/2 packs online');
    assert.equal(t('bms-pack.status.packs', { online: 2, packs: 2, extra: 1 }), '2/2 packs online');
    assert.equal(t('bms-pack.status.packs', { online: 2 }), '2/__packs__ packs online');
    assert.equal(t('bms-pack.status.noData'), 'no data');
    assert.equal(t('bms-pack.status.noData'), 'no data');
    assert.deepEqual(asked, [
      'bms-pack.status.packs {"online":1,"packs":2}',
      'bms-pack.status.packs {"online":2,"packs":2}',
      'bms-pack.status.packs {"online":2,"packs":2,"extra":1}',
      'bms-pack.status.packs {"online":2}',
      'bms-pack.status.noData null',
    ]);
  });

  describe('in a real Node-RED 4.1 set to a language it has no texts of its own for', function () {
    this.timeout(60_000);
    let red: RunningRed | undefined;
    let copy = '';

    before(async () => {
      // The package as installed, plus a Dutch catalog for two node sets: Node-RED must find it
      // under the node set's namespace and the nodes must ask for it. (Node-RED's own log
      // has no Dutch, so it stays English and the start can be awaited.)
      copy = fs.mkdtempSync(path.join(os.tmpdir(), 'lfp-bms-i18n-'));
      fs.cpSync(path.join(root, 'dist'), path.join(copy, 'dist'), { recursive: true });
      fs.copyFileSync(path.join(root, 'package.json'), path.join(copy, 'package.json'));
      fs.symlinkSync(path.join(root, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
      const dutch = (type: string, texts: object): void => {
        const dir = path.join(copy, 'dist', 'nodes', type, 'locales', 'nl');
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, `${type}.json`), JSON.stringify({ [type]: texts }));
      };
      dutch('bms-link', { common: { noLink: 'geen bms-link ingesteld' } });
      dutch('bms-venus', {});
      red = await startNodeRed({ lang: 'nl' }, copy);
    });

    after(async () => {
      await red?.stop();
      if (copy) fs.rmSync(copy, { recursive: true, force: true });
    });

    it('a node without its bms-link says so in Dutch; a text the Dutch catalog lacks comes in English', async () => {
      if (!red) throw new Error('Node-RED did not start');
      const flow = [
        { id: 'f', type: 'tab', label: 'i18n' },
        { id: 'p', type: 'bms-parallel', z: 'f', source: 'link', link: 'missing', stale: '30', packs: '', wires: [] },
        { id: 'v', type: 'bms-venus', z: 'f', source: 'input', bus: 'nonsense', wires: [] },
      ];
      const deployed = await fetch(`${red.base}/flows`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
        body: JSON.stringify(flow),
      });
      assert.equal(deployed.status, 204);
      assert.match(await red.waitForLine(/\[bms-parallel:p\]/), /bms-parallel: geen bms-link ingesteld$/);
      assert.match(
        await red.waitForLine(/\[bms-venus:v\]/),
        /bms-venus: bus address "nonsense" is neither unix:path=… nor tcp:host=…,port=…$/,
      );
    });
  });
});
