import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { AlarmTracker, aggregateBank, changedBeyond, type PackInput } from '../../src/bank';
import type { PackAnalog } from '../../src/protocol';

function pack(n: number, over: Partial<PackAnalog> = {}, extra: Partial<PackInput> = {}): PackInput {
  const analog: PackAnalog = {
    pack: n,
    cellVoltages: Array.from({ length: 16 }, (_, i) => 3.3 + i / 1000),
    temperatures: [25, 26, null, 24],
    current: -10,
    voltage: 52.92,
    remainingAh: 50,
    fullAh: 100,
    designAh: 100,
    cycles: 10,
    soc: 50,
    soh: 100,
    online: true,
    ...over,
  };
  return {
    pack: n,
    analog,
    alarms: { balancingCells: [], alarms: [], protections: [], faults: [], chargeMos: true, dischargeMos: true },
    online: true,
    ageMs: 1000,
    ...extra,
  };
}

describe('bank: aggregateBank', () => {
  it('sums currents and capacities, weights SOC by full capacity and SOH by design capacity', () => {
    const state = aggregateBank(
      [
        pack(1, { remainingAh: 90, fullAh: 100, soc: 90, soh: 100, designAh: 100 }),
        pack(2, { remainingAh: 100, fullAh: 200, soc: 50, soh: 80, designAh: 250, current: -5 }),
      ],
      { staleAfterMs: 5000 },
    );
    assert.equal(state.current, -15);
    assert.equal(state.remainingAh, 190);
    assert.equal(state.fullAh, 300);
    assert.equal(state.soc, 63.3);
    assert.equal(state.soh, 85.7);
    assert.equal(state.packsOnline, 2);
    assert.equal(state.power, Math.round(-15 * 52.92 * 10) / 10);
  });

  it('names the extreme cells and sensors and the spread', () => {
    const high = pack(3, {
      cellVoltages: Array.from({ length: 16 }, (_, i) => (i === 11 ? 3.45 : 3.3)),
      temperatures: [31.5, null],
    });
    const state = aggregateBank([pack(1), high], { staleAfterMs: 5000 });
    const { cellVoltage, temperature } = state;
    assert.ok(cellVoltage && temperature);
    assert.deepEqual(cellVoltage.max, { value: 3.45, pack: 3, index: 12, id: 'P03C12' });
    assert.deepEqual(cellVoltage.min, { value: 3.3, pack: 1, index: 1, id: 'P01C01' });
    assert.equal(cellVoltage.spread, 0.15);
    assert.deepEqual(temperature.max, { value: 31.5, pack: 3, index: 1, id: 'P03T01' });
    assert.equal(temperature.min.value, 24);
  });

  it('leaves stale, offline and missing packs out of every total and lists them', () => {
    const state = aggregateBank(
      [pack(1), pack(2, { current: -99, soc: 5 }, { ageMs: 60_000 }), pack(3, {}, { online: false })],
      { staleAfterMs: 30_000, expectedPacks: [1, 2, 3, 4] },
    );
    assert.equal(state.packsExpected, 4);
    assert.equal(state.packsOnline, 1);
    assert.deepEqual(state.stalePacks, [2, 3, 4]);
    assert.deepEqual(state.packsOffline, [3, 4]);
    assert.equal(state.current, -10);
    assert.equal(state.soc, 50);
    assert.equal(state.packs.find((p) => p.pack === 2)?.stale, true);
  });

  it('gives nothing rather than zero when no pack counts', () => {
    const state = aggregateBank([pack(1, {}, { ageMs: 99_000 })], { staleAfterMs: 1000 });
    assert.equal(state.current, null);
    assert.equal(state.soc, null);
    assert.equal(state.voltage, null);
    assert.equal(state.cellVoltage, null);
  });

  it('unites alarm codes with the packs reporting them, worst level first, FULLY not an alarm', () => {
    const a = pack(1);
    const b = pack(2);
    const state = aggregateBank(
      [
        { ...a, alarms: { ...a.alarms!, alarms: ['OV'], protections: ['FULLY'] } },
        { ...b, alarms: { ...b.alarms!, alarms: ['OV'], faults: ['NTC'] } },
      ],
      { staleAfterMs: 5000 },
    );
    assert.equal(state.alarmLevel, 'fault');
    assert.deepEqual(state.alarms, [
      { code: 'NTC', level: 'fault', text: 'temperature sensor fault', packs: [2] },
      { code: 'OV', level: 'warning', text: 'cell over-voltage', packs: [1, 2] },
    ]);
    assert.deepEqual(
      state.packs.map((p) => p.alarmLevel),
      ['warning', 'fault'],
    );
  });
});

describe('bank: AlarmTracker', () => {
  it('a pack not answering raises OFFLINE at the chosen level, keeps its other alarms, and clears once it reports again', () => {
    const t = new AlarmTracker({ raiseAfterMs: 5000, clearAfterMs: 10_000, offlineLevel: 'protection' });
    const codes = (
      pack: number,
      alarms: string[],
    ): { pack: number; alarms: string[]; protections: string[]; faults: string[] } => ({
      pack,
      alarms,
      protections: [],
      faults: [],
    });
    assert.deepEqual(t.update([codes(2, ['OV'])], 0), []);
    assert.equal(t.update([codes(2, ['OV'])], 5000).length, 1, 'OV raised');
    assert.deepEqual(t.update([], 6000, [2]), [], 'not before the raise delay');
    const raised = t.update([], 11_000, [2]);
    assert.deepEqual(
      raised.map((c) => [c.code, c.level, c.state, c.pack, c.text]),
      [['OFFLINE', 'protection', 'raised', 2, 'pack not answering']],
    );
    assert.deepEqual(t.update([], 60_000, [2]), [], 'OV stays raised while nothing is known about it');
    assert.deepEqual(
      t.active().map((a) => a.code),
      ['OFFLINE', 'OV'],
    );
    t.update([codes(2, ['OV'])], 61_000);
    const cleared = t.tick(71_000);
    assert.deepEqual(
      cleared.map((c) => [c.code, c.state]),
      [['OFFLINE', 'cleared']],
    );
    assert.deepEqual(
      t.active().map((a) => a.code),
      ['OV'],
    );
    const silent = new AlarmTracker({});
    assert.deepEqual(silent.update([], 0, [3]), [], 'no offline level: no OFFLINE alarm');
    const excluded = new AlarmTracker({ offlineLevel: 'fault', exclude: ['OFFLINE'] });
    assert.deepEqual(excluded.update([], 0, [3]), [], 'excluded like any code');
  });

  const codes = (pack: number, alarms: string[] = [], protections: string[] = [], faults: string[] = []) => ({
    pack,
    alarms,
    protections,
    faults,
  });

  it('raises after the raise delay, clears after the clear delay, and ignores flicker', () => {
    const t = new AlarmTracker({ raiseAfterMs: 5000, clearAfterMs: 10_000 });
    assert.deepEqual(t.update([codes(1, ['OV'])], 0), []);
    assert.deepEqual(t.update([codes(1, [])], 3000), [], 'gone before the raise delay: never raised');
    assert.equal(t.nextDue(), undefined);
    t.update([codes(1, ['OV'])], 4000);
    assert.equal(t.nextDue(), 9000);
    const raised = t.tick(9000);
    assert.deepEqual(raised, [
      {
        code: 'OV',
        level: 'warning',
        state: 'raised',
        pack: 1,
        text: 'cell over-voltage',
        since: new Date(4000).toISOString(),
      },
    ]);
    assert.deepEqual(t.update([codes(1, [])], 10_000), []);
    assert.deepEqual(t.update([codes(1, ['OV'])], 15_000), [], 'back before the clear delay: stays raised');
    t.update([codes(1, [])], 16_000);
    assert.deepEqual(t.tick(25_999), []);
    assert.deepEqual(
      t.tick(26_000).map((c) => c.state),
      ['cleared'],
    );
    assert.deepEqual(t.active(), []);
  });

  it('keeps the groups apart (EOT alarm vs EOT protection), filters, and leaves silent packs alone', () => {
    const t = new AlarmTracker({ exclude: ['USOC'], minLevel: 'warning' });
    const changes = t.update([codes(1, ['EOT', 'USOC'], ['EOT']), codes(2, [], [], ['NTC'])], 0);
    assert.deepEqual(
      changes.map((c) => `${c.pack}:${c.level}:${c.code}`),
      ['1:protection:EOT', '1:warning:EOT', '2:fault:NTC'],
    );
    assert.deepEqual(t.update([codes(1, [], [])], 1), [
      {
        code: 'EOT',
        level: 'protection',
        state: 'cleared',
        pack: 1,
        text: 'ambient over-temperature protection',
        since: new Date(0).toISOString(),
      },
      {
        code: 'EOT',
        level: 'warning',
        state: 'cleared',
        pack: 1,
        text: 'ambient over-temperature',
        since: new Date(0).toISOString(),
      },
    ]);
    assert.deepEqual(
      t.active().map((a) => a.code),
      ['NTC'],
      'pack 2 sent nothing new: its fault stays',
    );
    const protectionsOnly = new AlarmTracker({ minLevel: 'protection', include: ['OVP', 'OV'] });
    assert.deepEqual(
      protectionsOnly.update([codes(1, ['OV'], ['OVP', 'UVP'])], 0).map((c) => c.code),
      ['OVP'],
    );
  });
});

describe('bank: alarm order', () => {
  it("orders codes by their characters, not by the machine's locale (whose collator maps megabytes of ICU in)", () => {
    const collated: string[] = [];
    const localeCompare = Object.getOwnPropertyDescriptor(String.prototype, 'localeCompare');
    Object.defineProperty(String.prototype, 'localeCompare', {
      ...localeCompare,
      value(this: string, that: string) {
        collated.push(`${this} ${that}`);
        return (localeCompare?.value as (this: string, that: string) => number).call(this, that);
      },
    });
    try {
      const a = pack(1);
      const b = pack(2);
      // The same level, codes out of order, one the packs' own and in lower case.
      const inputs = [
        { ...a, alarms: { ...a.alarms!, alarms: ['UV', 'COC', 'bit7', 'OV'] } },
        { ...b, alarms: { ...b.alarms!, alarms: ['OV', 'DOC'] } },
      ];
      assert.deepEqual(
        aggregateBank(inputs, { staleAfterMs: 5000 }).alarms.map((x) => x.code),
        ['COC', 'DOC', 'OV', 'UV', 'bit7'],
      );
      const tracker = new AlarmTracker({});
      assert.deepEqual(
        tracker
          .update(
            inputs.map((p) => ({ pack: p.pack, ...p.alarms })),
            0,
          )
          .map((c) => `${String(c.pack)}:${c.code}`),
        ['1:COC', '1:OV', '1:UV', '1:bit7', '2:DOC', '2:OV'],
      );
      assert.deepEqual(
        tracker.active().map((x) => `${String(x.pack)}:${x.code}`),
        ['1:COC', '1:OV', '1:UV', '1:bit7', '2:DOC', '2:OV'],
      );
      assert.deepEqual(collated, []);
    } finally {
      if (localeCompare) Object.defineProperty(String.prototype, 'localeCompare', localeCompare);
    }
  });

  it('nothing in the runtime orders by the collator', () => {
    const root = join(__dirname, '..', '..');
    const sources = ['src', 'nodes'].flatMap((dir) =>
      readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.ts'))
        .map((f) => join(dir, f)),
    );
    assert.ok(sources.length > 100, `${String(sources.length)} files`);
    const collating = sources.filter((f) => /localeCompare\(|Intl\.Collator/.test(readFileSync(join(root, f), 'utf8')));
    assert.deepEqual(collating, []);
  });
});

describe('bank: changedBeyond', () => {
  it('compares numbers within the deadband and everything else exactly, ignoring the data age', () => {
    const a = {
      pack: 1,
      online: true,
      ageMs: 10,
      analog: { voltage: 52.3, cells: [3.3, 3.31] },
      alarms: { alarms: [] as string[] },
    };
    assert.equal(changedBeyond(a, { ...a, ageMs: 5000 }, 0), false);
    assert.equal(changedBeyond(a, { ...a, analog: { voltage: 52.31, cells: [3.3, 3.31] } }, 0.02), false);
    assert.equal(changedBeyond(a, { ...a, analog: { voltage: 52.35, cells: [3.3, 3.31] } }, 0.02), true);
    assert.equal(changedBeyond(a, { ...a, analog: { voltage: 52.3, cells: [3.3, 3.35] } }, 0.02), true);
    assert.equal(changedBeyond(a, { ...a, online: false }, 100), true);
    assert.equal(changedBeyond(a, { ...a, alarms: { alarms: ['OV'] } }, 100), true);
  });
});
