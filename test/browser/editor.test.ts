import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { listSerialPorts } from '../../src/link';
import { launchBrowser, startNodeRed, type RunningRed } from '../helpers/red-process';
import { startSim, type RunningSim } from '../helpers/sim';

const root = path.resolve(__dirname, '../..');
const SHOTS = path.join(root, 'screenshots');

describe('editor and dashboard in a real browser', function () {
  this.timeout(120_000);
  let sim: RunningSim;
  let red: RunningRed;
  let browser: Browser;
  let page: Page;

  before(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    sim = await startSim({ packs: 3, current: -15 }, { baudRate: 9600, latencyMs: 10 });
    red = await startNodeRed();
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1800, height: 1000 } });
    page.on('dialog', (dialog) => {
      void dialog.accept();
    });
    await page.goto(red.base);
    await page.waitForSelector('.red-ui-palette-node[data-palette-type="bms-pack"]');
    await page.screenshot({ path: path.join(SHOTS, 'editor-loaded.png') });
  });

  after(async () => {
    await browser.close();
    await red.stop();
    await sim.stop();
  });

  it('shows the node types under "LiFePO4 BMS" in the palette', async () => {
    const category = await page.textContent(
      '#red-ui-palette-container-LiFePO4_BMS, [id^="red-ui-palette-container-LiFePO4"]',
    );
    assert.ok(category);
    for (const type of [
      'bms-pack',
      'bms-parallel',
      'bms-alarms',
      'bms-venus',
      'bms-params',
      'bms-history',
      'bms-control',
      'bms-mqtt',
      'bms-inverter',
    ]) {
      assert.equal(await page.locator(`.red-ui-palette-node[data-palette-type="${type}"]`).count(), 1, type);
    }
  });

  const dialogs: { type: string; fields: string[]; invalid: [string, string]; help: RegExp }[] = [
    {
      type: 'bms-pack',
      fields: [
        '#node-input-link',
        '#node-input-pack',
        '#node-input-topic',
        '#node-input-onlyOnChange',
        '#node-input-deadband',
      ],
      invalid: ['#node-input-pack', '99'],
      help: /canonical|ageMs/,
    },
    {
      type: 'bms-parallel',
      fields: ['#node-input-source', '#node-input-link', '#node-input-stale', '#node-input-packs'],
      invalid: ['#node-input-stale', 'soon'],
      help: /left out of every total/,
    },
    {
      type: 'bms-alarms',
      fields: [
        '#node-input-raise',
        '#node-input-clear',
        '#node-input-minLevel',
        '#node-input-include',
        '#node-input-exclude',
      ],
      invalid: ['#node-input-raise', 'later'],
      help: /debounce/,
    },
    {
      type: 'bms-params',
      fields: [
        '#node-input-link',
        '#node-input-pack',
        '#node-input-mode',
        '#node-input-password',
        '#node-input-rating',
      ],
      invalid: ['#node-input-pack', 'one'],
      help: /admin password/,
    },
    {
      type: 'bms-history',
      fields: ['#node-input-link', '#node-input-pack', '#node-input-format'],
      invalid: ['#node-input-pack', 'x'],
      help: /without gaps or\s+repeats/,
    },
    {
      type: 'bms-control',
      fields: ['#node-input-link', '#node-input-pack', '#node-input-dailyClock'],
      invalid: ['#node-input-pack', '1;2'],
      help: /never a success/,
    },
    {
      type: 'bms-venus',
      fields: [
        '#node-input-source',
        '#node-input-link',
        '#node-input-bus',
        '#node-input-shadow',
        '#node-input-cellMax',
        '#node-input-lost',
      ],
      invalid: ['#node-input-cellMax', '3.9'],
      help: /Shadow mode/,
    },
    {
      type: 'bms-inverter',
      fields: [
        '#node-input-source',
        '#node-input-link',
        '#node-input-protocol',
        '#node-input-port',
        '#node-input-family',
        '#node-input-manufacturer',
        '#node-input-limits',
        '#node-input-silentAfter',
      ],
      invalid: ['#node-input-silentAfter', '5'],
      help: /never PYLON|are refused/,
    },
    {
      type: 'bms-mqtt',
      fields: [
        '#node-input-source',
        '#node-input-link',
        '#node-input-bankName',
        '#node-input-bankId',
        '#node-input-prefix',
        '#node-input-base',
        '#node-input-bridge',
        '#node-input-interval',
        '#node-input-stale',
        '#node-input-cells',
      ],
      invalid: ['#node-input-interval', '0'],
      help: /positive while discharging/,
    },
  ];
  const LABELS: Readonly<Record<string, string>> = {
    'bms-pack': 'bms packs',
    'bms-parallel': 'bms bank',
    'bms-alarms': 'bms alarms',
    'bms-venus': 'bms venus',
    'bms-params': 'bms params 1',
    'bms-history': 'bms history 1',
    'bms-control': 'bms control 1',
    'bms-mqtt': 'bms mqtt',
    'bms-inverter': 'bms inverter',
  };

  for (const { type, fields, invalid, help } of dialogs) {
    it(`${type}: added from the palette, its dialog shows its fields, flags an invalid value, and its help renders`, async () => {
      await page.dragAndDrop(`.red-ui-palette-node[data-palette-type="${type}"]`, '#red-ui-workspace-chart', {
        targetPosition: {
          x: 250 + 250 * (dialogs.findIndex((d) => d.type === type) % 2),
          y: 150 + 80 * Math.floor(dialogs.findIndex((d) => d.type === type) / 2),
        },
      });
      const added = page
        .locator(`#red-ui-workspace-chart g.red-ui-flow-node-group:has(text:text-is("${LABELS[type] ?? type}"))`)
        .last();
      await added.dblclick();
      await page.waitForSelector('.red-ui-tray .red-ui-tray-header');
      for (const field of fields)
        assert.ok(
          (await page.locator(field).isVisible()) || (await page.locator(field).count()) === 1,
          `${type}: ${field}`,
        );
      // A new Venus bridge starts in shadow mode: it must be switched off on purpose.
      if (type === 'bms-venus') assert.equal(await page.isChecked('#node-input-shadow'), true);
      for (const label of await page.locator('.red-ui-tray label span[data-i18n]').allTextContents())
        assert.doesNotMatch(label, /\./, `${type}: untranslated label ${label}`);
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
      await page.waitForFunction(
        (source) => new RegExp(source).test(document.querySelector('#red-ui-sidebar-content')?.textContent ?? ''),
        help.source,
      );
      assert.match((await page.textContent('#red-ui-sidebar-content')) ?? '', help);
      // Nothing in the help is wider than the sidebar at its default width.
      const widest = await page.evaluate(() => {
        const box = document.querySelector('.lfp-bms-help');
        if (!box) return { missing: true, over: [] as string[] };
        const limit = box.getBoundingClientRect().right + 1;
        return {
          missing: false,
          over: [...box.querySelectorAll('*')]
            .filter((e) => e.getBoundingClientRect().right > limit)
            .map((e) => (e.textContent || '').slice(0, 40)),
        };
      });
      assert.equal(widest.missing, false, `${type}: help rendered`);
      assert.deepEqual(widest.over, [], `${type}: help lines wider than the sidebar`);
    });
  }

  it('bms-link: the config dialog offers port, dialect, mode and writes-off by default, and requires a port', async () => {
    await page
      .locator('#red-ui-workspace-chart g.red-ui-flow-node-group:has(text:text-is("bms packs"))')
      .last()
      .dblclick();
    await page.waitForSelector('.red-ui-tray #node-input-pack');
    await page.click('#node-input-btn-link-add');
    await page.waitForSelector('#node-config-input-port');
    for (const field of [
      '#node-config-input-baud',
      '#node-config-input-dialect',
      '#node-config-input-mode',
      '#node-config-input-packs',
      '#node-config-input-interval',
    ]) {
      assert.equal(await page.locator(field).count(), 1, field);
    }
    assert.equal(await page.isChecked('#node-config-input-allowWrites'), false);
    // The port picker lists this machine's serial ports through the admin API.
    const [listed] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/lifepo4-bms/ports')),
      page.click('#node-config-lookup-port'),
    ]);
    assert.equal(listed.status(), 200);
    assert.deepEqual(await listed.json(), await listSerialPorts());
    await page.fill('#node-config-input-port', 'tcp://no-port');
    await page.locator('#node-config-input-port').dispatchEvent('change');
    await page.waitForSelector('#node-config-input-port.input-error');
    // The runtime's ranges: what it would refuse is flagged here, its limits are accepted.
    for (const [field, bad, good] of [
      ['interval', '0', '3600'],
      ['timeout', '0', '100'],
      ['gap', '5001', '0'],
      ['packs', '1,16', '1,2,15'],
    ] as const) {
      const input = `#node-config-input-${field}`;
      await page.fill(input, bad);
      await page.locator(input).dispatchEvent('change');
      await page.waitForSelector(`${input}.input-error`);
      await page.fill(input, good);
      await page.locator(input).dispatchEvent('change');
      await page.waitForSelector(`${input}:not(.input-error)`);
    }
    await page.screenshot({ path: path.join(SHOTS, 'dialog-bms-link.png') });
    await page.click('#node-config-dialog-cancel');
    await page.click('#node-dialog-cancel');
  });

  it('the demo flow, imported and deployed from the editor, shows the simulated bank on the dashboard', async () => {
    const flow = (
      JSON.parse(fs.readFileSync(path.join(root, 'examples', 'flows.json'), 'utf8')) as {
        type: string;
        port?: string;
      }[]
    ).map((n) => (n.type === 'bms-link' ? { ...n, port: sim.tcp } : n));
    await page.evaluate((nodes) => {
      const editor = (window as unknown as { RED: { view: { importNodes(nodes: unknown, options?: object): void } } })
        .RED;
      editor.view.importNodes(nodes, { addFlow: true });
    }, flow);
    await page.click('#red-ui-header-button-deploy');
    // The unconfigured nodes added from the palette above make Node-RED ask before deploying.
    const confirm = page.locator('.red-ui-notification button', { hasText: 'Confirm deploy' });
    await Promise.race([
      confirm.waitFor().then(() => confirm.click()),
      page.waitForSelector('#red-ui-header-button-deploy.disabled'),
    ]);
    await page.waitForSelector('#red-ui-header-button-deploy.disabled');

    const dashboard = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    await dashboard.goto(`${red.base}/dashboard/bank`);
    await dashboard.waitForSelector('.bms-pack-card[data-pack="3"] .bms-pack-soc');
    for (let n = 1; n <= 3; n++) {
      const card = dashboard.locator(`.bms-pack-card[data-pack="${String(n)}"]`);
      const soc = (await card.locator('.bms-pack-soc').textContent())?.trim();
      const voltage = (await card.locator('.bms-pack-voltage').textContent())?.trim();
      const sent = sim.bank.truthFor(n).map((t) => t.analog);
      assert.ok(
        sent.some((t) => t.soc?.toFixed(1) === soc),
        `pack ${String(n)}: SOC ${soc ?? '?'} % is one the simulator sent`,
      );
      assert.ok(
        sent.some((t) => t.voltage.toFixed(2) === voltage),
        `pack ${String(n)}: ${voltage ?? '?'} V is one the simulator sent`,
      );
    }
    assert.equal((await dashboard.textContent('.bms-online'))?.trim(), '3 / 3');
    await dashboard.screenshot({ path: path.join(SHOTS, 'dashboard.png'), fullPage: true });
    await dashboard.close();
  });

  it("bms-link's Diagnose button downloads one file for a bug report, read from the deployed link", async () => {
    await page.evaluate(() => {
      const editor = (
        window as unknown as {
          RED: {
            nodes: { eachConfig(fn: (n: { id: string; type: string; name?: string }) => void): void };
            editor: { editConfig(name: string, type: string, id: string): void };
          };
        }
      ).RED;
      let id = '';
      editor.nodes.eachConfig((n) => {
        if (n.type === 'bms-link' && n.name === 'simulated bank') id = n.id;
      });
      editor.editor.editConfig('', 'bms-link', id);
    });
    await page.waitForSelector('#lfp-bms-diagnose');
    try {
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#lfp-bms-diagnose')]);
      assert.match(download.suggestedFilename(), /^lfp-bms-diagnose-\d{4}-\d\d-\d\dT[\d-]+Z\.json$/);
      const file = await download.path();
      const bundle = JSON.parse(fs.readFileSync(file, 'utf8')) as {
        port: string;
        anonymised: boolean;
        frames: { dir: string; kind: string }[];
        timing: { command: string; requests: number; replies: number }[];
      };
      assert.equal(bundle.port, sim.tcp);
      assert.equal(bundle.anonymised, true);
      // Three reads of the bank: three analog replies (the status is read every tenth cycle or when flagged).
      const analog = bundle.timing.find((t) => t.command === 'analog 0x42');
      assert.ok(analog && analog.replies >= 3, JSON.stringify(bundle.timing));
      assert.equal(
        bundle.frames.filter((f) => f.kind === 'reply').length,
        bundle.timing.reduce((n, t) => n + t.replies, 0),
      );
      await page.waitForSelector(
        '#lfp-bms-diagnose-result:text("0 reply(s) not decoded, 0 unknown status bit group(s): saved")',
      );
    } finally {
      await page.click('#node-config-dialog-cancel');
      // The editor is usable again once the dialog and its shade are gone.
      await page.waitForSelector('.red-ui-tray', { state: 'detached' });
      await page.waitForSelector('#red-ui-header-shade', { state: 'hidden' });
    }
  });

  it('in the editor, a node shows why it cannot work: an interval the runtime refuses, a serial port that does not exist', async () => {
    await page.evaluate(() => {
      const editor = (window as unknown as { RED: { view: { importNodes(nodes: unknown, options?: object): void } } })
        .RED;
      editor.view.importNodes(
        [
          { id: 'why-tab', type: 'tab', label: 'why' },
          {
            id: 'why-l1',
            type: 'bms-link',
            name: 'interval 0',
            port: 'tcp://127.0.0.1:1',
            baud: '9600',
            dialect: 'auto',
            mode: 'auto',
            packs: 'discover',
            interval: '0',
            timeout: '1000',
            gap: '50',
            allowWrites: false,
          },
          {
            id: 'why-l2',
            type: 'bms-link',
            name: 'missing port',
            port: '/dev/ttyLFPMISSING3',
            baud: '9600',
            dialect: 'auto',
            mode: 'auto',
            packs: 'discover',
            interval: '5',
            timeout: '1000',
            gap: '50',
            allowWrites: false,
          },
          {
            id: 'why-p1',
            type: 'bms-pack',
            z: 'why-tab',
            name: 'bad interval',
            link: 'why-l1',
            pack: '1',
            x: 200,
            y: 100,
            wires: [[]],
          },
          {
            id: 'why-p2',
            type: 'bms-pack',
            z: 'why-tab',
            name: 'no such port',
            link: 'why-l2',
            pack: '1',
            x: 200,
            y: 200,
            wires: [[]],
          },
        ],
        { addFlow: false },
      );
    });
    await page.click('#red-ui-header-button-deploy');
    const confirm = page.locator('.red-ui-notification button', { hasText: 'Confirm deploy' });
    await Promise.race([
      confirm.waitFor().then(() => confirm.click()),
      page.waitForSelector('#red-ui-header-button-deploy.disabled'),
    ]);
    await page.waitForSelector('#red-ui-header-button-deploy.disabled');
    await page.evaluate(() => {
      const editor = (
        window as unknown as {
          RED: {
            nodes: { eachWorkspace(fn: (ws: { id: string; label: string }) => void): void };
            workspaces: { show(id: string): void };
          };
        }
      ).RED;
      let id = '';
      editor.nodes.eachWorkspace((ws) => {
        if (ws.label === 'why') id = ws.id;
      });
      editor.workspaces.show(id);
    });
    await page.waitForSelector('.red-ui-flow-node-status-label:text("poll interval must be 1 to 3600 s")');
    await page.waitForSelector('.red-ui-flow-node-status-label:text("port not found")', { timeout: 30_000 });
    await page.screenshot({ path: path.join(SHOTS, 'editor-status-reasons.png') });
  });
});
