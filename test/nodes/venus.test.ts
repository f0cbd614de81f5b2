import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sinon from 'sinon';
import { aggregateBank } from '../../src/bank';
import { decodeModbusAnalog } from '../../src/protocol';
import { ModbusBank, SimServer, SimulatedBank } from '../../src/sim';
import type { BridgeReport } from '../../src/venus';
import { parseVenusConfig } from '../../nodes/shared/venus-config';
import { startBus, type RunningBus } from '../helpers/dbus';
import { FakeLocalSettings } from '../helpers/localsettings';
import { NODES, helper, linkConfig, nextMessage, node, startServer, statusOf, stopServer } from '../helpers/red';
import { startSim, type RunningSim } from '../helpers/sim';
import { SystemCalcEmulation } from '../helpers/systemcalc';
import { simInputs } from '../helpers/venus';

interface Msg<T> {
  payload: T;
  error?: { message: string; source?: { id: string } };
}

describe('bms-venus node', function () {
  this.timeout(30_000);
  let bus: RunningBus;
  let settings: FakeLocalSettings;
  let systemcalc: SystemCalcEmulation;
  let userDir: string;

  before(async () => {
    userDir = mkdtempSync(join(tmpdir(), 'lfp-red-'));
    helper.settings({ userDir });
    await startServer();
    bus = await startBus();
  });
  after(async () => {
    await stopServer();
    helper.settings({});
    await bus.stop();
    rmSync(userDir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    settings = new FakeLocalSettings();
    await settings.start(bus.address);
    systemcalc = await SystemCalcEmulation.start(bus.address);
  });
  afterEach(async () => {
    await helper.unload();
    systemcalc.stop();
    settings.stop();
  });

  const venus = (extra: object = {}): object => ({
    id: 'venus',
    type: 'bms-venus',
    source: 'link',
    link: 'link',
    bus: bus.address,
    bankId: '',
    instance: '1',
    shadow: false,
    packCharge: '50',
    packDischarge: '100',
    maxCharge: '',
    maxDischarge: '',
    cellMax: '3.45',
    cellFloat: '3.375',
    cellMin: '2.9',
    absorption: '15',
    interval: '5',
    lost: '60',
    releaseOnLoss: false,
    packServices: false,
    productName: '',
    topic: 'bms/venus',
    wires: [['out']],
    ...extra,
  });

  it('validates its configuration with one-line reasons', () => {
    assert.ok('options' in parseVenusConfig({}));
    const bad: [object, RegExp][] = [
      [{ bus: 'localhost:78' }, /bus address/],
      [{ cellMax: '3.8' }, /charge cell voltage must be 3\.30\.\.3\.65/],
      [{ cellFloat: '3.5', cellMax: '3.45' }, /float cell voltage/],
      [{ cellMin: '3.4' }, /low cell voltage/],
      [{ packCharge: '-1' }, /pack currents/],
      [{ maxDischarge: 'lots' }, /bank discharge maximum/],
      [{ lost: '10' }, /BMS-lost timeout must be 30\.\.3600 s/],
      [{ doubtfulDischarge: '-5' }, /discharge while the data is doubtful/],
      [{ bankId: 'a b' }, /bank id/],
    ];
    for (const [config, reason] of bad) {
      const result = parseVenusConfig(config);
      assert.ok('error' in result && reason.test(result.error), JSON.stringify(config));
    }
  });

  describe('fed by a bms-link', () => {
    let sim: RunningSim;
    beforeEach(async () => {
      sim = await startSim({ packs: 3, current: 20 });
    });
    afterEach(async () => {
      await sim.stop();
    });

    it('publishes the simulated bank as battery monitor and BMS, and survives a dbus-daemon restart', async () => {
      await helper.load(NODES, [linkConfig('link', sim.tcp), venus(), { id: 'out', type: 'helper' }]);
      const report = await nextMessage<Msg<BridgeReport>>('out', (m) => m.payload.phase === 'registered');
      const name = report.payload.serviceName ?? '';
      assert.match(name, /^com\.victronenergy\.battery\.lfpbms_SIM01\d+$/);
      await systemcalc.waitFor('the bank', () => systemcalc.services.has(name));
      assert.equal(systemcalc.batteryMonitor(), name);
      assert.equal(systemcalc.bms(), name);
      // Bank voltage on the bus = the mean of what the simulator last sent.
      const mean = (): number => {
        const last = [1, 2, 3].map((p) => sim.bank.truthFor(p).at(-1)?.analog.voltage ?? 0);
        return Math.round((last.reduce((a, b) => a + b, 0) / 3) * 100) / 100;
      };
      await systemcalc.waitFor("the simulator's voltage", () => systemcalc.value(name, '/Dc/0/Voltage') === mean());
      assert.equal(systemcalc.value(name, '/Mgmt/Connection'), `RS485 ${sim.tcp}`);

      systemcalc.stop();
      settings.stop();
      await bus.kill();
      await statusOf('venus', (s) => s.text === 'D-Bus unreachable, retrying');
      await bus.restart();
      await settings.start(bus.address);
      await systemcalc.connect(bus.address);
      await systemcalc.waitFor('the bank back', () => systemcalc.services.has(name), 20_000);
      assert.equal(systemcalc.services.get(name)?.instance, report.payload.instance);
      // The runtime kept running: the node still reports.
      await nextMessage<Msg<BridgeReport>>('out', (m) => m.payload.phase === 'registered');
    });
  });

  for (const transport of ['pty (RTU)', 'transparent TCP gateway (RTU)', 'Modbus-TCP gateway'] as const) {
    it(`publishes a PACE Modbus bank on a ${transport} the same way, values from the registers the packs sent`, async () => {
      const bank = new SimulatedBank({ packs: 3, current: 18, seed: 5 });
      const mbap = transport === 'Modbus-TCP gateway';
      const pty = transport === 'pty (RTU)';
      const packs = new ModbusBank(bank, { framing: mbap ? 'mbap' : 'rtu' });
      const server = new SimServer({ bank: packs, baudRate: 19200, latencyMs: 5, ...(pty ? { pty: true } : {}) });
      const endpoints = await server.start();
      const port = pty ? (endpoints.pty ?? '') : mbap ? endpoints.tcp.replace(/^tcp:/, 'modbus-tcp:') : endpoints.tcp;
      try {
        await helper.load(NODES, [
          linkConfig('link', port, { baud: '19200', dialect: 'pace-modbus', packs: '1,2,3' }),
          venus(),
          { id: 'out', type: 'helper' },
        ]);
        const report = await nextMessage<Msg<BridgeReport>>('out', (m) => m.payload.phase === 'registered');
        const name = report.payload.serviceName ?? '';
        await systemcalc.waitFor('the bank', () => systemcalc.services.has(name));
        assert.equal(systemcalc.bms(), name);
        const mean = (): number => {
          const volts = [1, 2, 3].map((p) => {
            const regs = packs.lastRegisters.get(p);
            return regs ? decodeModbusAnalog(regs, p).voltage : 0;
          });
          return Math.round((volts.reduce((a, b) => a + b, 0) / 3) * 100) / 100;
        };
        await systemcalc.waitFor("the packs' voltage", () => systemcalc.value(name, '/Dc/0/Voltage') === mean());
        assert.equal(systemcalc.value(name, '/System/NrOfModulesOnline'), 3);
      } finally {
        await helper.unload();
        await server.stop();
      }
    });
  }

  describe('fed by messages', () => {
    afterEach(() => {
      sinon.restore();
    });

    it('turns a malformed message into a caught error and keeps running', async () => {
      await helper.load(NODES, [
        { id: 'f', type: 'tab' },
        { ...venus({ source: 'input', link: '' }), z: 'f' },
        { id: 'out', type: 'helper', z: 'f' },
        { id: 'c', type: 'catch', z: 'f', scope: ['venus'], uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper', z: 'f' },
      ]);
      const caught = nextMessage<Msg<unknown>>('caught');
      node('venus').receive({ payload: 42 });
      const msg = await caught;
      assert.equal(
        msg.error?.message,
        'Error: bms-venus: msg.payload is neither a bms-parallel bank state nor a bms-pack reading',
      );
      const sim = new SimulatedBank({ packs: 2, seed: 3 });
      const out = nextMessage<Msg<BridgeReport>>('out');
      node('venus').receive({ payload: aggregateBank(simInputs(sim), { staleAfterMs: 30_000 }) });
      assert.equal((await out).payload.packsOnline, 2);
    });

    it('its own watchdog stops charging when the input stops, then loses the BMS, says so in status and output, and keeps the history on disk', async () => {
      // The watchdog's timer runs on fake time too; the rest (Node-RED, the bus) keeps real time.
      const clock = sinon.useFakeTimers({
        now: Date.now(),
        toFake: ['Date', 'setTimeout', 'clearTimeout'],
        shouldAdvanceTime: true,
      });
      await helper.load(NODES, [venus({ source: 'input', link: '' }), { id: 'out', type: 'helper' }]);
      const sim = new SimulatedBank({ packs: 2, seed: 4, current: 30 });
      const first = nextMessage<Msg<BridgeReport>>('out');
      node('venus').receive({ payload: aggregateBank(simInputs(sim), { staleAfterMs: 30_000 }) });
      const name = (await first).payload.serviceName ?? '';
      await systemcalc.waitFor('the bank', () => typeof systemcalc.value(name, '/Info/MaxChargeVoltage') === 'number');
      clock.tick(2000);
      node('venus').receive({ payload: aggregateBank(simInputs(sim), { staleAfterMs: 30_000 }) });
      const trusted = Number(systemcalc.value(name, '/Dc/0/Voltage'));
      // The bank state said its packs go stale after 30 s: then no pack is fresh.
      const doubtful = nextMessage<Msg<BridgeReport>>('out', (m) => m.payload.stage === 2);
      clock.tick(31_000);
      const stage2 = (await doubtful).payload;
      assert.deepEqual([stage2.published.ccl, stage2.published.dcl], [0, 200]);
      assert.ok(
        stage2.published.cvl !== null && stage2.published.cvl <= trusted,
        `CVL ${String(stage2.published.cvl)} V`,
      );
      assert.equal(stage2.stageText, 'data doubtful: charging stopped, discharge held');
      // Found within a second of the packs turning stale: the BMS-lost time counts from then.
      assert.match(stage2.reason, /^no fresh data from any pack \([01] s\)$/);
      assert.ok(stage2.bmsLostInMs !== undefined && stage2.bmsLostInMs >= 59_000, String(stage2.bmsLostInMs));
      await statusOf('venus', (s) => /^no charge · DCL 200 A · BMS lost in (59|60) s$/.test(s.text ?? ''));
      await systemcalc.waitFor('CCL 0 on the bus', () => systemcalc.value(name, '/Info/MaxChargeCurrent') === 0);
      assert.equal(systemcalc.bms(), name);
      const lost = nextMessage<Msg<BridgeReport>>('out', (m) => m.payload.stage === 3);
      clock.tick(300_000);
      assert.equal((await lost).payload.published.cvl, null);
      await systemcalc.waitFor(
        'CVL invalid on the bus',
        () => systemcalc.value(name, '/Info/MaxChargeVoltage') === null,
      );
      await statusOf('venus', (s) => (s.text ?? '').startsWith('BMS lost · DCL 200 A'));
      await helper.unload();
      const file = join(userDir, 'lifepo4-bms', `venus-${name.split('.').pop() ?? ''}.json`);
      assert.ok(existsSync(file));
      const saved = JSON.parse(readFileSync(file, 'utf8')) as { history: { chargedKwh: number } };
      // 2 s at about 2 × 15 A × 53 V.
      assert.ok(saved.history.chargedKwh > 0 && saved.history.chargedKwh < 0.002, String(saved.history.chargedKwh));
    });
  });
});
