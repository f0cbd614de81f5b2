import assert from 'node:assert/strict';
import { parseLinkConfig } from '../../nodes/shared/link-config';
import { englishTexts } from '../../nodes/shared/i18n';
import { RANGES, inRange } from '../../nodes/shared/ranges';

describe('settings ranges: the runtime refuses exactly what the table says (the editor gets the same table)', () => {
  const base = {
    port: '/dev/ttyUSB0',
    baud: '9600',
    dialect: 'auto',
    mode: 'auto',
    packs: 'discover',
    interval: '5',
    timeout: '1000',
    gap: '50',
  };
  for (const name of ['interval', 'timeout', 'gap'] as const) {
    it(`bms-link ${name}: ${String(RANGES[name].min)} and ${String(RANGES[name].max)} pass, just outside and text fail`, () => {
      const { min, max } = RANGES[name];
      for (const ok of [min, max])
        assert.ok('options' in parseLinkConfig({ ...base, [name]: String(ok) }), `${name} ${String(ok)}`);
      for (const bad of [String(min - 1), String(max + 1), 'soon', '', 'Infinity']) {
        const parsed = parseLinkConfig({ ...base, [name]: bad });
        assert.ok(
          'error' in parsed && parsed.error.startsWith(englishTexts(`bms-link.range.${name}`)),
          `${name} "${bad}"`,
        );
      }
    });
  }

  it('packs: 1 to 15, whole numbers', () => {
    assert.ok('options' in parseLinkConfig({ ...base, packs: '1,2,15' }));
    for (const bad of ['0', '16', '99', '1.5', '1,x'])
      assert.ok('error' in parseLinkConfig({ ...base, packs: bad }), bad);
    assert.deepEqual(inRange('pack', '15'), { value: 15 });
    assert.deepEqual(inRange('pack', 2.5), { error: 'pack must be a whole number 1 to 15' });
  });
});
