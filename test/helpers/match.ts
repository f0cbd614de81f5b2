import assert from 'node:assert/strict';

/** Keys the decoder adds beyond the captured expectations (docs/payloads.md#extensions), never required by vectors. */
const EXTENSION_KEYS = new Set(['message', 'note', 'online', 'temperatureRoles', 'state']);

/**
 * Assert that `actual` has exactly the structure of `expected`, with numbers equal to the
 * precision they are printed with, and nothing extra except the documented extension keys.
 */
export function assertDecodes(actual: unknown, expected: unknown, path = '$'): void {
  if (typeof expected === 'number') {
    assert.equal(typeof actual, 'number', `${path}: expected a number, got ${JSON.stringify(actual)}`);
    const diff = Math.abs((actual as number) - expected);
    assert.ok(diff <= 1e-9 + 1e-9 * Math.abs(expected), `${path}: ${String(actual)} != ${expected}`);
    return;
  }
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: expected an array`);
    assert.equal(actual.length, expected.length, `${path}: length`);
    expected.forEach((e, i) => {
      assertDecodes((actual as unknown[])[i], e, `${path}[${i}]`);
    });
    return;
  }
  if (expected !== null && typeof expected === 'object') {
    assert.ok(actual !== null && typeof actual === 'object' && !Array.isArray(actual), `${path}: expected an object`);
    const a = actual as Record<string, unknown>;
    const e = expected as Record<string, unknown>;
    for (const key of Object.keys(e)) {
      assert.ok(key in a, `${path}.${key} is missing`);
      assertDecodes(a[key], e[key], `${path}.${key}`);
    }
    for (const key of Object.keys(a)) {
      if (!(key in e)) assert.ok(EXTENSION_KEYS.has(key) && a[key] !== undefined, `${path}.${key} is not expected`);
    }
    return;
  }
  assert.deepEqual(actual, expected, path);
}
