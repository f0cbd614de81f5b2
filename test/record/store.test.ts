import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aggregateBank, type BankState } from '../../src/bank';
import { PACKS_TABLE, RecordStore, checkRange, localDay } from '../../src/record';
import { SimulatedBank } from '../../src/sim';

const START = Date.UTC(2026, 10, 30, 12, 0, 0);

/** The simulated bank's state now, as bms-parallel makes it. */
function bankState(sim: SimulatedBank, packs: number): BankState {
  return aggregateBank(
    Array.from({ length: packs }, (_, i) => ({
      pack: i + 1,
      analog: { ...sim.pack(i + 1).analog(), pack: i + 1 },
      alarms: sim.pack(i + 1).alarms(),
      online: true,
      ageMs: 0,
    })),
    { staleAfterMs: 15_000 },
  );
}

async function collect(gen: AsyncGenerator<string>): Promise<string> {
  let out = '';
  for await (const chunk of gen) out += chunk;
  return out;
}

describe('record: the rolling on-disk record', () => {
  let dir: string;
  let now: number;
  const clock = (): number => now;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lfp-record-'));
    now = START;
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('samples the bank every minute and the packs every 5 minutes, written in batches, one header per file', async () => {
    const sim = new SimulatedBank({ packs: 3, current: -20, now: clock });
    const store = new RecordStore({ dir, clock, flushEveryMs: 120_000 });
    await store.open();
    // Polled every 5 s for 10 minutes.
    for (let t = 0; t < 600_000; t += 5000) {
      now = START + t;
      store.add(bankState(sim, 3));
      if (t === 60_000) assert.deepEqual(readdirSync(dir), [], 'nothing written before the first batch is due');
    }
    await store.close();
    const day = localDay(START);
    const bank = readFileSync(join(dir, `bank-v1-${day}.csv`), 'utf8')
      .trim()
      .split('\n');
    assert.equal(bank.length, 1 + 10, 'a header and one row per minute');
    assert.match(bank[0] ?? '', /^time,soc,soh,voltage,current,power,/);
    const packs = readFileSync(join(dir, `packs-v1-${day}.csv`), 'utf8')
      .trim()
      .split('\n');
    assert.equal(packs.length, 1 + 2 * 3, 'a header and each pack twice');
    assert.equal(packs.filter((l) => l.startsWith('time,')).length, 1);
    const row = packs[1]?.split(',') ?? [];
    assert.equal(row.length, PACKS_TABLE.columns.length);
    assert.equal(
      row[PACKS_TABLE.columns.indexOf('cell16')],
      String(sim.pack(1).analog().cellVoltages[15]),
      'the cell voltage the bank reported',
    );
  });

  it('trends survive a restart: a new store on the same directory has the last 24 h', async () => {
    const sim = new SimulatedBank({ packs: 2, current: -10, now: clock });
    const first = new RecordStore({ dir, clock, flushEveryMs: 0 });
    await first.open();
    for (let m = 0; m < 30; m++) {
      now = START + m * 60_000;
      first.add(bankState(sim, 2));
    }
    const before = first.trend();
    await first.close();
    assert.equal(before.length, 30);
    const second = new RecordStore({ dir, clock });
    await second.open();
    const after = second.trend();
    assert.deepEqual(
      after.map((p) => p.time),
      before.map((p) => p.time),
    );
    assert.deepEqual(
      after.map((p) => p.soc),
      before.map((p) => p.soc),
    );
    assert.ok(
      after.every((p) => typeof p.power === 'number' && typeof p.spreadMv === 'number'),
      'power and spread restored',
    );
    assert.equal(second.trend(24, 10).length, 10, 'thinned to the points asked for');
  });

  it('keeps the configured number of days and stays below its size, oldest first; today is never dropped', async () => {
    const old = (daysAgo: number, bytes: number): void => {
      writeFileSync(join(dir, `bank-v1-${localDay(START - daysAgo * 86_400_000)}.csv`), 'x'.repeat(bytes));
    };
    old(70, 10);
    old(5, 600_000);
    old(3, 600_000);
    old(1, 600_000);
    writeFileSync(join(dir, 'notes.txt'), "the user's own file");
    const store = new RecordStore({ dir, clock, keepDays: 62, maxBytes: 1_300_000 });
    await store.open();
    const left = readdirSync(dir).sort();
    assert.deepEqual(left, [
      `bank-v1-${localDay(START - 3 * 86_400_000)}.csv`,
      `bank-v1-${localDay(START - 86_400_000)}.csv`,
      'notes.txt',
    ]);
    assert.equal(store.stats.bytes, 1_200_000);
    assert.equal(store.stats.oldestDay, localDay(START - 3 * 86_400_000));
  });

  it('downloads a range as one CSV in time order, and skips a line cut by a power failure', async () => {
    const sim = new SimulatedBank({ packs: 1, current: 5, now: clock });
    const store = new RecordStore({ dir, clock, flushEveryMs: 0 });
    await store.open();
    for (let d = 0; d < 3; d++) {
      now = START + d * 86_400_000;
      store.add(bankState(sim, 1));
      now += 60_000;
      store.add(bankState(sim, 1));
    }
    await store.flush();
    const lastDay = localDay(START + 2 * 86_400_000);
    // A power cut in the middle of a row.
    writeFileSync(
      join(dir, `bank-v1-${lastDay}.csv`),
      `${readFileSync(join(dir, `bank-v1-${lastDay}.csv`), 'utf8')}2026-12-02T12:02:00+00:00,55.`,
      { flag: 'w' },
    );
    const csv = (await collect(store.csv('bank', localDay(START + 86_400_000), lastDay))).trim().split('\n');
    assert.equal(csv.length, 1 + 4, 'one header, two rows of each of the two days asked for');
    assert.ok(
      csv.slice(1).every((l, i, all) => i === 0 || (all[i - 1] ?? '') <= l),
      'in time order',
    );
    assert.deepEqual(
      store.days().map((d) => d.day),
      [lastDay, localDay(START + 86_400_000), localDay(START)],
    );
  });

  it('a write that fails loses nothing: the rows are written by the next flush that can', async () => {
    const sim = new SimulatedBank({ packs: 1, current: 5, now: clock });
    const store = new RecordStore({ dir, clock, flushEveryMs: 3_600_000 });
    await store.open();
    const blocked = join(dir, `bank-v1-${localDay(START)}.csv`);
    mkdirSync(blocked);
    store.add(bankState(sim, 1));
    await store.flush();
    assert.match(store.stats.lastError ?? '', /^cannot write .*bank-v1-.*\.csv: /);
    assert.equal(store.stats.bufferedSamples, 1);
    rmSync(blocked, { recursive: true });
    now += 60_000;
    store.add(bankState(sim, 1));
    await store.flush();
    assert.equal(store.stats.lastError, null);
    assert.equal(readFileSync(blocked, 'utf8').trim().split('\n').length, 1 + 2);
  });

  it('refuses ranges that are not days', () => {
    assert.deepEqual(checkRange('2026-11-01', '2026-11-30'), { from: '2026-11-01', to: '2026-11-30' });
    assert.deepEqual(checkRange('2026-11-01', undefined), { from: '2026-11-01', to: '2026-11-01' });
    for (const [from, to] of [
      ['../../etc/passwd', ''],
      ['2026-11-01', '2026-10-01'],
      [{ toString: () => '2026-11-01' }, ''],
      ['2026-13-45', ''],
    ]) {
      assert.equal(typeof checkRange(from, to), 'string', `${String(from)}…${String(to)}`);
    }
  });
});
