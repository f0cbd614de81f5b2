import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BANK_ENTITIES, CONTROL_ENTITIES, PACK_ENTITIES, type EntityDef } from '../../src/homeassistant';
import { CONFIG_KEYS, DEVICE_KEYS } from './schema';

const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'home-assistant.md'), 'utf8');

/** The table rows under a heading: key, component, name, device class, unit, state class, category. */
function table(heading: string): string[][] {
  const start = doc.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `no section ${heading}`);
  const rows: string[][] = [];
  for (const line of doc.slice(start + heading.length + 2).split('\n')) {
    if (line.startsWith('#')) break;
    const m = /^\| `([a-z0-9_]+)` \|(.*)\|$/.exec(line);
    if (m) rows.push([m[1] ?? '', ...(m[2] ?? '').split('|').map((c) => c.trim())]);
  }
  return rows;
}

const rowOf = (e: EntityDef<never>): string[] => [
  e.key,
  e.component,
  e.name,
  e.deviceClass ?? '',
  e.unit ?? '',
  e.stateClass ?? '',
  e.category ?? '',
];

describe('docs/home-assistant.md says what the node announces', () => {
  for (const [heading, entities] of [
    ['### Bank', BANK_ENTITIES],
    ['### Bank, once a bms-venus node reports (wire its output to bms-mqtt)', CONTROL_ENTITIES],
    ['### Pack', PACK_ENTITIES],
  ] as const) {
    it(`${heading.slice(4)}: every entity with its class, unit and state class`, () => {
      assert.deepEqual(table(heading), (entities as readonly EntityDef<never>[]).map(rowOf));
    });
  }

  it('lists exactly the discovery keys the tests allow', () => {
    const list = (label: string): string[] =>
      [...(new RegExp(`\\n${label}: ([^]*?)\\.\\n`).exec(doc)?.[1] ?? '').matchAll(/`([a-z_]+)`/g)].map(
        (m) => m[1] ?? '',
      );
    assert.deepEqual(new Set(list('Config')), CONFIG_KEYS);
    assert.deepEqual(new Set(list('Device')), DEVICE_KEYS);
  });
});
