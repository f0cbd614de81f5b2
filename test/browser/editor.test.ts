import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startSim, type RunningSim } from '../helpers/sim';

const root = path.resolve(__dirname, '../..');
const SHOTS = path.join(root, 'screenshots');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => { resolve(port); });
    });
    server.on('error', reject);
  });
}

/** Node-RED 4.1 in a fresh user directory with this package and Dashboard 2 linked in, as installed. */
async function startNodeRed(): Promise<{ base: string; child: ChildProcess; userDir: string }> {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lfp-bms-red-'));
  fs.mkdirSync(path.join(userDir, 'node_modules', '@flowfuse'), { recursive: true });
  fs.symlinkSync(root, path.join(userDir, 'node_modules', 'node-red-contrib-lifepo4-bms'), 'dir');
  fs.symlinkSync(path.dirname(require.resolve('@flowfuse/node-red-dashboard/package.json')), path.join(userDir, 'node_modules', '@flowfuse', 'node-red-dashboard'), 'dir');
  fs.writeFileSync(path.join(userDir, 'flows.json'), '[]');
  // No first-run tour or update-notification prompt over the editor.
  fs.writeFileSync(path.join(userDir, 'settings.js'), "module.exports = { flowFile: 'flows.json', editorTheme: { tours: false }, telemetry: { enabled: false } };\n");
  const port = await freePort();
  const child = spawn(process.execPath, [require.resolve('node-red/red.js'), '--userDir', userDir, '--port', String(port), 'flows.json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('Started flows')) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => { reject(new Error(`Node-RED exited (${String(code)}): ${output.slice(-2000)}`)); });
  });
  assert.doesNotMatch(output, /\[error\].*(bms|lifepo4)/i, 'the package loads without errors');
  return { base: `http://127.0.0.1:${port}`, child, userDir };
}

describe('editor and dashboard in a real browser', function () {
  this.timeout(120_000);
  let sim: RunningSim;
  let red: { base: string; child: ChildProcess; userDir: string };
  let browser: Browser;
  let page: Page;

  before(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    sim = await startSim({ packs: 3, current: -15 }, { baudRate: 9600, latencyMs: 10 });
    red = await startNodeRed();
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1800, height: 1000 } });
    page.on('dialog', (dialog) => { void dialog.accept(); });
    await page.goto(red.base);
    await page.waitForSelector('.red-ui-palette-node[data-palette-type="bms-pack"]');
    await page.screenshot({ path: path.join(SHOTS, 'editor-loaded.png') });
  });

  after(async () => {
    await browser.close();
    const exited = new Promise((resolve) => red.child.once('exit', resolve));
    red.child.kill('SIGINT');
    await exited;
    fs.rmSync(red.userDir, { recursive: true, force: true });
    await sim.stop();
  });

  it('shows the node types under "LiFePO4 BMS" in the palette', async () => {
    const category = await page.textContent('#red-ui-palette-container-LiFePO4_BMS, [id^="red-ui-palette-container-LiFePO4"]');
    assert.ok(category);
    for (const type of ['bms-pack', 'bms-parallel', 'bms-alarms', 'bms-venus', 'bms-params', 'bms-history', 'bms-control']) {
      assert.equal(await page.locator(`.red-ui-palette-node[data-palette-type="${type}"]`).count(), 1, type);
    }
  });

  const dialogs: { type: string; fields: string[]; invalid: [string, string]; help: RegExp }[] = [
    { type: 'bms-pack', fields: ['#node-input-link', '#node-input-pack', '#node-input-topic', '#node-input-onlyOnChange', '#node-input-deadband'], invalid: ['#node-input-pack', 'pack one'], help: /canonical|ageMs/ },
    { type: 'bms-parallel', fields: ['#node-input-source', '#node-input-link', '#node-input-stale', '#node-input-packs'], invalid: ['#node-input-stale', 'soon'], help: /left out of every total/ },
    { type: 'bms-alarms', fields: ['#node-input-raise', '#node-input-clear', '#node-input-minLevel', '#node-input-include', '#node-input-exclude'], invalid: ['#node-input-raise', 'later'], help: /debounce/ },
    { type: 'bms-params', fields: ['#node-input-link', '#node-input-pack', '#node-input-mode', '#node-input-password', '#node-input-rating'], invalid: ['#node-input-pack', 'one'], help: /admin password/ },
    { type: 'bms-history', fields: ['#node-input-link', '#node-input-pack', '#node-input-format'], invalid: ['#node-input-pack', 'x'], help: /without gaps or\s+repeats/ },
    { type: 'bms-control', fields: ['#node-input-link', '#node-input-pack', '#node-input-dailyClock'], invalid: ['#node-input-pack', '1;2'], help: /never a success/ },
    { type: 'bms-venus', fields: ['#node-input-source', '#node-input-link', '#node-input-bus', '#node-input-shadow', '#node-input-cellMax', '#node-input-lost'], invalid: ['#node-input-cellMax', '3.9'], help: /Shadow mode/ },
  ];
  const LABELS: Readonly<Record<string, string>> = {
    'bms-pack': 'bms packs', 'bms-parallel': 'bms bank', 'bms-alarms': 'bms alarms', 'bms-venus': 'bms venus',
    'bms-params': 'bms params 1', 'bms-history': 'bms history 1', 'bms-control': 'bms control 1',
  };

  for (const { type, fields, invalid, help } of dialogs) {
    it(`${type}: added from the palette, its dialog shows its fields, flags an invalid value, and its help renders`, async () => {
      await page.dragAndDrop(`.red-ui-palette-node[data-palette-type="${type}"]`, '#red-ui-workspace-chart', { targetPosition: { x: 250 + 250 * (dialogs.findIndex((d) => d.type === type) % 2), y: 150 + 80 * Math.floor(dialogs.findIndex((d) => d.type === type) / 2) } });
      const added = page.locator(`#red-ui-workspace-chart g.red-ui-flow-node-group:has(text:text-is("${LABELS[type] ?? type}"))`).last();
      await added.dblclick();
      await page.waitForSelector('.red-ui-tray .red-ui-tray-header');
      for (const field of fields) assert.ok(await page.locator(field).isVisible() || (await page.locator(field).count()) === 1, `${type}: ${field}`);
      // A new Venus bridge starts in shadow mode: it must be switched off on purpose.
      if (type === 'bms-venus') assert.equal(await page.isChecked('#node-input-shadow'), true);
      for (const label of await page.locator('.red-ui-tray label span[data-i18n]').allTextContents()) assert.doesNotMatch(label, /\./, `${type}: untranslated label ${label}`);
      const [selector, bad] = invalid;
      await page.fill(selector, bad);
      await page.locator(selector).dispatchEvent('change');
      await page.waitForSelector(`${selector}.input-error`);
      await page.screenshot({ path: path.join(SHOTS, `dialog-${type}.png`) });
      await page.click('#node-dialog-cancel');
      await page.waitForSelector('.red-ui-tray', { state: 'detached' });
      await page.evaluate((t) => {
        (window as unknown as { RED: { sidebar: { help: { show(type: string): void } } } }).RED.sidebar.help.show(t);
      }, type);
      await page.waitForFunction((source) => new RegExp(source).test(document.querySelector('#red-ui-sidebar-content')?.textContent ?? ''), help.source);
      assert.match(await page.textContent('#red-ui-sidebar-content') ?? '', help);
    });
  }

  it('bms-link: the config dialog offers port, dialect, mode and writes-off by default, and requires a port', async () => {
    await page.locator('#red-ui-workspace-chart g.red-ui-flow-node-group:has(text:text-is("bms packs"))').last().dblclick();
    await page.waitForSelector('.red-ui-tray #node-input-pack');
    await page.click('#node-input-btn-link-add');
    await page.waitForSelector('#node-config-input-port');
    for (const field of ['#node-config-input-baud', '#node-config-input-dialect', '#node-config-input-mode', '#node-config-input-packs', '#node-config-input-interval']) {
      assert.equal(await page.locator(field).count(), 1, field);
    }
    assert.equal(await page.isChecked('#node-config-input-allowWrites'), false);
    await page.fill('#node-config-input-port', 'tcp://no-port');
    await page.locator('#node-config-input-port').dispatchEvent('change');
    await page.waitForSelector('#node-config-input-port.input-error');
    await page.screenshot({ path: path.join(SHOTS, 'dialog-bms-link.png') });
    await page.click('#node-config-dialog-cancel');
    await page.click('#node-dialog-cancel');
  });

  it('the demo flow, imported and deployed from the editor, shows the simulated bank on the dashboard', async () => {
    const flow = (JSON.parse(fs.readFileSync(path.join(root, 'examples', 'flows.json'), 'utf8')) as { type: string; port?: string }[])
      .map((n) => (n.type === 'bms-link' ? { ...n, port: sim.tcp } : n));
    await page.evaluate((nodes) => {
      const editor = (window as unknown as { RED: { view: { importNodes(nodes: unknown, options?: object): void } } }).RED;
      editor.view.importNodes(nodes, { addFlow: true });
    }, flow);
    await page.click('#red-ui-header-button-deploy');
    // The unconfigured nodes added from the palette above make Node-RED ask before deploying.
    const confirm = page.locator('.red-ui-notification button', { hasText: 'Confirm deploy' });
    await Promise.race([confirm.waitFor().then(() => confirm.click()), page.waitForSelector('#red-ui-header-button-deploy.disabled')]);
    await page.waitForSelector('#red-ui-header-button-deploy.disabled');

    const dashboard = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    await dashboard.goto(`${red.base}/dashboard`);
    await dashboard.waitForSelector('text=State of charge');
    await dashboard.waitForSelector('.bms-power :text-matches("\\\\d+ W")');
    await dashboard.waitForSelector('.bms-packs tbody tr:nth-child(3)');
    const rows = await dashboard.locator('.bms-packs tbody tr').count();
    assert.equal(rows, 3);
    for (let i = 0; i < rows; i++) {
      const [pack, online, soc, voltage] = (await dashboard.locator('.bms-packs tbody tr').nth(i).locator('td').allTextContents()).map((c) => c.trim());
      assert.equal(pack, String(i + 1));
      assert.equal(online, 'yes');
      const sent = sim.bank.truthFor(i + 1).map((t) => t.analog);
      assert.ok(sent.some((t) => t.soc === Number(soc)), `pack ${i + 1}: SOC ${soc ?? '?'} % is one the simulator sent`);
      assert.ok(sent.some((t) => t.voltage === Number(voltage)), `pack ${i + 1}: ${voltage ?? '?'} V is one the simulator sent`);
    }
    assert.match(await dashboard.textContent('.bms-voltage') ?? '', /\d+\.\d\d V · cells 3\.\d{3}–3\.\d{3} V/);
    await dashboard.waitForSelector('.bms-alarms :text("no active alarms")');
    await dashboard.screenshot({ path: path.join(SHOTS, 'dashboard.png'), fullPage: true });
    await dashboard.close();
  });
});
