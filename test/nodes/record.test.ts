import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeAPI } from 'node-red';
import type { TrendPoint } from '../../src/record';
import { localDay } from '../../src/record';
import { NODES, helper, linkConfig, nextMessage, node, startServer, stopServer } from '../helpers/red';
import { startSim, type RunningSim } from '../helpers/sim';

type Msg<T> = { topic: string; payload: T; error?: { message: string } };

describe('bms-record in Node-RED', function () {
  this.timeout(30_000);
  let sim: RunningSim;
  let dir: string;
  let http: Server | undefined;
  /** Node-RED's HTTP app for flows (httpNode), served on a real port. */
  let base = '';
  const serveHttpNode = (RED: NodeAPI): void => {
    http?.close();
    http = createServer(RED.httpNode as unknown as Parameters<typeof createServer>[1]);
    http.listen(0, '127.0.0.1');
  };
  const load = async (): Promise<void> => {
    await helper.load(
      [serveHttpNode, ...NODES],
      [
        { id: 'f', type: 'tab' },
        linkConfig('l', sim.tcp),
        { id: 'b', type: 'bms-parallel', z: 'f', source: 'link', link: 'l', stale: '10', packs: '', wires: [['r']] },
        {
          id: 'r',
          type: 'bms-record',
          z: 'f',
          dir,
          bankEvery: '5',
          packsEvery: '5',
          keepDays: '62',
          maxMb: '100',
          flushEvery: '0',
          http: true,
          wires: [['trend'], ['days']],
        },
        { id: 'trend', type: 'helper', z: 'f' },
        { id: 'days', type: 'helper', z: 'f' },
        { id: 'c', type: 'catch', z: 'f', scope: ['r'], uncaught: false, wires: [['errors']] },
        { id: 'errors', type: 'helper', z: 'f' },
      ],
    );
    await new Promise<void>((resolve) => {
      if (http?.listening) resolve();
      else
        http?.once('listening', () => {
          resolve();
        });
    });
    base = `http://127.0.0.1:${String((http?.address() as AddressInfo).port)}`;
  };

  before(startServer);
  after(stopServer);
  beforeEach(async () => {
    sim = await startSim({ packs: 3, current: -12 });
    dir = mkdtempSync(join(tmpdir(), 'lfp-record-node-'));
  });
  afterEach(async () => {
    await helper.unload();
    http?.close();
    http = undefined;
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The trend the node answers with (it answers once its record is open). */
  const askTrend = async (): Promise<TrendPoint[]> => {
    const answer = nextMessage<Msg<TrendPoint[]>>('trend', (m) => m.topic === 'trend');
    node('r').receive({ action: 'trend' });
    return (await answer).payload;
  };

  it('records the bank, serves it as CSV over HTTP, and gives the trend back after a restart', async () => {
    await load();
    assert.deepEqual(await askTrend(), [], 'an empty record at first');
    const sample = await nextMessage<Msg<TrendPoint>>('trend', (m) => m.topic === 'sample');
    assert.equal(typeof sample.payload.soc, 'number');
    const sentSoc = sim.bank.truthFor(1).map((t) => t.analog.soc);

    const today = localDay(Date.now());
    const response = await fetch(`${base}/lfp-bms/record/r/packs.csv?from=${today}`);
    assert.equal(response.status, 200);
    assert.match(
      response.headers.get('content-disposition') ?? '',
      new RegExp(`filename="lfp-bms-packs-${today}_${today}.csv"`),
    );
    const [header = '', ...rows] = (await response.text()).trim().split('\n');
    const columns = header.split(',');
    const pack1 = rows.map((r) => r.split(',')).find((r) => r[columns.indexOf('pack')] === '1');
    assert.ok(pack1, 'a row for pack 1');
    assert.ok(
      sentSoc.includes(Number(pack1[columns.indexOf('soc')])),
      `SOC ${String(pack1[columns.indexOf('soc')])} is one the simulator sent`,
    );
    const before = await askTrend();
    assert.ok(before.length >= 1);

    await helper.unload();
    await load();
    const after = await askTrend();
    assert.deepEqual(
      after.slice(0, before.length).map((p) => [p.time, p.soc]),
      before.map((p) => [p.time, p.soc]),
      'the samples before the restart are back',
    );
  });

  it('a directory that cannot be made is reported, and every input says why; nothing crashes', async () => {
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, 'not a directory');
    await helper.load(NODES, [
      { id: 'f', type: 'tab' },
      {
        id: 'r',
        type: 'bms-record',
        z: 'f',
        dir: join(blocker, 'record'),
        bankEvery: '60',
        packsEvery: '300',
        keepDays: '62',
        maxMb: '100',
        flushEvery: '60',
        http: true,
        wires: [[], []],
      },
      { id: 'c', type: 'catch', z: 'f', scope: ['r'], uncaught: false, wires: [['errors']] },
      { id: 'errors', type: 'helper', z: 'f' },
    ]);
    const caught = nextMessage<Msg<unknown>>('errors');
    node('r').receive({ action: 'days' });
    assert.match((await caught).error?.message ?? '', /cannot open .*a-file\/record: /);
    assert.deepEqual(node('r').status.lastCall?.args[0], {
      fill: 'red',
      shape: 'ring',
      text: 'cannot open the record',
    });
  });

  it('refuses a range that is not days and an unknown record; a hostile action is an error, the node keeps running', async () => {
    await load();
    await askTrend();
    assert.equal((await fetch(`${base}/lfp-bms/record/r/bank.csv?from=../../etc/passwd`)).status, 400);
    assert.equal(
      await (await fetch(`${base}/lfp-bms/record/r/bank.csv?from=2026-11-02&to=2026-11-01`)).text(),
      'to is before from',
    );
    assert.equal((await fetch(`${base}/lfp-bms/record/nope/bank.csv?from=2026-11-01`)).status, 404);
    assert.equal((await fetch(`${base}/lfp-bms/record/r/secrets.csv?from=2026-11-01`)).status, 404);
    const caught = nextMessage<Msg<unknown>>('errors');
    node('r').receive({ action: '__proto__', payload: {} });
    assert.match((await caught).error?.message ?? '', /^Error: bms-record: unknown action "__proto__"/);
    const notBank = nextMessage<Msg<unknown>>('errors');
    node('r').receive({ payload: { packs: 'all' } });
    assert.match(
      (await notBank).error?.message ?? '',
      /^Error: bms-record: msg.payload is not a bms-parallel bank state/,
    );
    const days = nextMessage<Msg<{ days: unknown[] }>>('days');
    node('r').receive({ action: 'days' });
    assert.ok(Array.isArray((await days).payload.days), 'still answering');
  });
});
