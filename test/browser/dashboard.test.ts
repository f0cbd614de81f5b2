import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, startNodeRed, type RunningRed } from '../helpers/red-process';
import { startSim, type RunningSim } from '../helpers/sim';

const root = path.resolve(__dirname, '../..');
const SHOTS = path.join(root, 'screenshots');
const SIZES = [
  { name: 'desktop', width: 1280, height: 900 },
  { name: 'phone', width: 390, height: 844 },
] as const;

/**
 * The demo flow as `npm start` deploys it, pointed at the simulator; for the test: writes allowed with
 * an admin password on the parameters node (the demo ships with both off), the record in a temporary
 * directory with a bank row every 5 s.
 */
function demoFlow(sim: RunningSim, recordDir: string): object[] {
  const flow = JSON.parse(fs.readFileSync(path.join(root, 'examples', 'flows.json'), 'utf8')) as Record<
    string,
    unknown
  >[];
  return flow.map((n) => {
    if (n.type === 'bms-link') return { ...n, port: sim.tcp, allowWrites: true };
    if (n.type === 'bms-params') return { ...n, credentials: { password: 'maintenance' } };
    if (n.type === 'bms-record') return { ...n, dir: recordDir, bankEvery: '5', packsEvery: '5', flushEvery: '0' };
    return n;
  });
}

/** The page fits its width: nothing scrolls sideways. */
async function assertNoSidewaysScroll(page: Page, what: string): Promise<void> {
  const { scroll, client } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
  assert.ok(scroll <= client, `${what}: ${String(scroll)} px wide in a ${String(client)} px window`);
}

describe('demo dashboard pages in a real browser', function () {
  this.timeout(180_000);
  let sim: RunningSim;
  let red: RunningRed;
  let browser: Browser;
  let recordDir = '';

  before(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    recordDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lfp-record-'));
    sim = await startSim({ packs: 3, current: -15 }, { baudRate: 9600, latencyMs: 10 });
    red = await startNodeRed();
    const deployed = await fetch(`${red.base}/flows`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
      body: JSON.stringify(demoFlow(sim, recordDir)),
    });
    assert.ok(deployed.ok, `deploy: ${String(deployed.status)} ${await deployed.text()}`);
    browser = await launchBrowser();
  });

  // Whatever started is stopped, even when starting failed half way: a Node-RED left running keeps the test run alive.
  after(async () => {
    await (browser as Browser | undefined)?.close();
    await (red as RunningRed | undefined)?.stop();
    await (sim as RunningSim | undefined)?.stop();
    if (recordDir) fs.rmSync(recordDir, { recursive: true, force: true });
  });

  const open = async (size: (typeof SIZES)[number], name: string): Promise<Page> => {
    const page = await browser.newPage({ viewport: { width: size.width, height: size.height } });
    await page.goto(`${red.base}/dashboard/${name}`);
    return page;
  };

  for (const size of SIZES) {
    describe(`at ${String(size.width)} px (${size.name})`, () => {
      it("Bank: SOC, power with direction, packs online, cells and temperatures by role, every pack with the simulator's values", async () => {
        const page = await open(size, 'bank');
        await page.waitForSelector('.bms-pack-card[data-pack="3"] .bms-pack-soc');
        assert.match((await page.textContent('.bms-soc')) ?? '', /^\d+\.\d %$/);
        assert.match((await page.textContent('.bms-power')) ?? '', /^\d+ W$/);
        assert.equal((await page.textContent('.bms-direction'))?.trim(), 'discharging', 'the simulator draws 15 A');
        assert.equal((await page.textContent('.bms-online'))?.trim(), '3 / 3');
        assert.match((await page.textContent('.bms-cell-min')) ?? '', /^min 3\.\d{3} V \(P0[1-3]C\d\d\)$/);
        assert.match((await page.textContent('.bms-temps')) ?? '', /cells.*MOSFET.*ambient/s);
        for (let n = 1; n <= 3; n++) {
          const card = page.locator(`.bms-pack-card[data-pack="${String(n)}"]`);
          const voltage = (await card.locator('.bms-pack-voltage').textContent())?.trim();
          assert.ok(
            sim.bank.truthFor(n).some((t) => t.analog.voltage.toFixed(2) === voltage),
            `pack ${String(n)}: ${voltage ?? '?'} V is one the simulator sent`,
          );
        }
        await assertNoSidewaysScroll(page, 'bank');
        await page.screenshot({ path: path.join(SHOTS, `page-bank-${size.name}.png`), fullPage: true });
        await page.close();
      });

      it('Pack: choose pack 2; its 16 cells with min / max marked, temperatures by role, switches, identity, BMS clock with drift', async () => {
        const page = await open(size, 'pack');
        await page.waitForSelector('.bms-chip[data-pack="2"]');
        await page.click('.bms-chip[data-pack="2"]');
        await page.waitForSelector('.bms-chip.bms-selected[data-pack="2"]');
        await page.waitForFunction(() =>
          /against this host/.test(document.querySelector('.bms-clock')?.textContent ?? ''),
        );
        assert.equal(await page.locator('.bms-cellbar').count(), 16);
        const cells = (await page.locator('.bms-cellbar div:last-child').allTextContents()).map((t) => t.trim());
        assert.ok(
          sim.bank.truthFor(2).some((t) => t.analog.cellVoltages.map((v) => v.toFixed(3)).join() === cells.join()),
          `cells ${cells.join(' ')} are a reading of pack 2`,
        );
        const lowest = Math.min(...cells.map(Number)).toFixed(3);
        assert.equal((await page.locator('.bms-cellbar.bms-min div:last-child').first().textContent())?.trim(), lowest);
        assert.deepEqual(
          (await page.locator('.bms-pack-temps > div:nth-child(odd)').allTextContents()).map((t) => t.trim()),
          ['cell 1', 'cell 2', 'cell 3', 'cell 4', 'MOSFET', 'ambient'],
        );
        assert.equal((await page.textContent('[data-switch="charge MOSFET"]'))?.trim(), 'on');
        assert.equal((await page.textContent('[data-switch="buzzer"]'))?.trim(), 'enabled');
        assert.match(
          (await page.textContent('.bms-clock')) ?? '',
          /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d \([+−]\d+ s against this host\)$/,
        );
        // Identity as the link read it (the master's firmware and serial).
        await page.click('.bms-chip[data-pack="1"]');
        await page.waitForSelector('.bms-chip.bms-selected[data-pack="1"]');
        assert.match((await page.textContent('.bms-serial')) ?? '', /^SIM/);
        assert.match((await page.textContent('.bms-firmware')) ?? '', /^P16S100A/);
        await assertNoSidewaysScroll(page, 'pack');
        await page.screenshot({ path: path.join(SHOTS, `page-pack-${size.name}.png`), fullPage: true });
        await page.close();
      });

      it('Trends: SOC, power and cell spread drawn from the recorded samples', async () => {
        const page = await open(size, 'trends');
        // A flat line has no height: attached, not "visible".
        await page.waitForSelector('.bms-trend[data-series="soc"] path[data-points]', { state: 'attached' });
        for (const series of ['soc', 'power', 'spreadMv']) {
          const points = Number(await page.getAttribute(`.bms-trend[data-series="${series}"] path`, 'data-points'));
          assert.ok(points >= 1, `${series}: ${String(points)} points`);
          assert.match(
            (await page.getAttribute(`.bms-trend[data-series="${series}"] path`, 'd')) ?? '',
            /^M[\d.]+,[\d.]+/,
          );
        }
        await assertNoSidewaysScroll(page, 'trends');
        await page.screenshot({ path: path.join(SHOTS, `page-trends-${size.name}.png`), fullPage: true });
        await page.close();
      });

      it('Recording: today on disk, and its download is the CSV of what the simulator sent', async () => {
        const page = await open(size, 'recording');
        await page.waitForSelector('.bms-days .bms-row[data-day]');
        const href = await page.getAttribute('.bms-download-packs', 'href');
        assert.match(
          href ?? '',
          /^\/lfp-bms\/record\/demo-record\/packs\.csv\?from=\d{4}-\d\d-\d\d&to=\d{4}-\d\d-\d\d$/,
        );
        const csv = await (await fetch(`${red.base}${href ?? ''}`)).text();
        const [header = '', ...rows] = csv.trim().split('\n');
        const columns = header.split(',');
        const row = rows.map((r) => r.split(',')).find((r) => r[columns.indexOf('pack')] === '1');
        assert.ok(row, 'a row of pack 1');
        const cell1 = row[columns.indexOf('cell1')];
        assert.ok(
          sim.bank.truthFor(1).some((t) => String(t.analog.cellVoltages[0]) === cell1),
          `cell 1 at ${cell1 ?? '?'} V is one the simulator sent`,
        );
        await assertNoSidewaysScroll(page, 'recording');
        await page.screenshot({ path: path.join(SHOTS, `page-recording-${size.name}.png`), fullPage: true });
        await page.close();
      });

      it('Maintenance: reading, planning and switching controls, and how writes are turned on', async () => {
        const page = await open(size, 'maintenance');
        await page.waitForSelector('.bms-writes-note');
        assert.match((await page.textContent('.bms-writes-note')) ?? '', /Allow writes.*admin password/s);
        await page.click('.bms-params-read');
        await page.waitForSelector('[data-group="cellOverVoltage"] [data-field="cellOverVoltage.delay"]');
        await assertNoSidewaysScroll(page, 'maintenance');
        await page.screenshot({ path: path.join(SHOTS, `page-maintenance-${size.name}.png`), fullPage: true });
        await page.close();
      });
    });
  }

  it('a pack taken offline: the Bank page says so, the alarm is raised; it clears when the pack is back', async () => {
    const page = await open(SIZES[0], 'bank');
    await page.waitForSelector('.bms-online');
    sim.bank.setOffline(2, true);
    await page.waitForSelector('.bms-missing:has-text("Pack 2 not answering")', { timeout: 60_000 });
    assert.equal((await page.textContent('.bms-online'))?.trim(), '2 / 3');
    assert.equal((await page.textContent('.bms-pack-card[data-pack="2"] .bms-pack-state'))?.trim(), 'not answering');
    await page.waitForSelector('.bms-alarm-list .bms-level-fault:has-text("pack 2 · OFFLINE")', { timeout: 60_000 });
    await page.screenshot({ path: path.join(SHOTS, 'page-bank-pack-offline.png'), fullPage: true });
    sim.bank.setOffline(2, false);
    await page.waitForFunction(() => document.querySelector('.bms-online')?.textContent.trim() === '3 / 3', undefined, {
      timeout: 60_000,
    });
    await page.waitForFunction(
      () => !/OFFLINE/.test(document.querySelector('.bms-alarm-list')?.textContent ?? ''),
      undefined,
      { timeout: 60_000 },
    );
    await page.close();
  });

  it('a parameter change through the Maintenance page: plan shown, nothing written until confirmed, then written and read back', async () => {
    const page = await open(SIZES[0], 'maintenance');
    const before = { ...sim.bank.pack(1).parameters.cellOverVoltage };
    await page.click('.bms-params-read');
    const field = page.locator('[data-field="cellOverVoltage.delay"]');
    await field.waitFor();
    assert.equal(await field.inputValue(), String(before.delay));
    const wanted = Number(before.delay) + 2;
    await field.fill(String(wanted));
    await field.dispatchEvent('change');
    await page.click('.bms-params-plan');
    await page.waitForSelector(
      `.bms-plan-change:has-text("cellOverVoltage.delay: ${String(before.delay)} → ${String(wanted)}")`,
    );
    assert.deepEqual(sim.bank.pack(1).parameters.cellOverVoltage, before, 'planning writes nothing');
    assert.equal(await page.isDisabled('.bms-params-apply'), true, 'no apply before the plan is acknowledged');
    await page.check('.bms-understood');
    await page.click('.bms-params-apply');
    await page.waitForSelector('.bms-log :text("applied and read back: cellOverVoltage")', { timeout: 30_000 });
    assert.equal(sim.bank.pack(1).parameters.cellOverVoltage?.delay, wanted, 'the pack holds the new value');
    assert.deepEqual(
      { ...sim.bank.pack(1).parameters.cellOverVoltage, delay: before.delay },
      before,
      'and nothing else changed',
    );
    await page.close();
  });

  it("history, clock and switches through the Maintenance page: each answer is the pack's own", async () => {
    const page = await open(SIZES[1], 'maintenance');
    await page.click('.bms-history-download');
    await page.waitForSelector('.bms-log :text-matches("pack 1: [0-9]+ new history record")', { timeout: 120_000 });
    assert.ok((await page.locator('.bms-history tr').count()) > 1, 'records shown as a table');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('.bms-history-csv')]);
    const csv = fs.readFileSync(await download.path(), 'utf8').split('\n');
    assert.match(csv[0] ?? '', /^time,voltage,current,remainingAh,fullAh,cycles,cell1,/);
    assert.ok(csv.length > 1);
    await page.click('.bms-clock-read');
    await page.waitForSelector('.bms-log :text-matches("pack 1 clock [0-9]{4}-")');
    assert.equal(sim.bank.pack(1).controlState & 1, 1, 'the buzzer is on');
    await page.click('[data-switch="buzzer-off"]');
    await page.waitForSelector('.bms-log :text("pack 1 buzzer: asked off, the pack reports off")');
    assert.equal(sim.bank.pack(1).controlState & 1, 0, 'and now off in the pack');
    await assertNoSidewaysScroll(page, 'maintenance with history');
    await page.screenshot({ path: path.join(SHOTS, 'page-maintenance-history-phone.png'), fullPage: true });
    await page.close();
  });
});
