import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../helpers/red-process';

const root = path.resolve(__dirname, '../..');

interface Started {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exit: Promise<number | null>;
}

/** `npm start`'s script with `args`, until it says it is ready or exits. */
async function start(args: string[]): Promise<Started> {
  const child = spawn(process.execPath, [path.join(root, 'scripts', 'start.mjs'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      resolve(code);
    }),
  );
  await new Promise<void>((resolve) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('stop with Ctrl-C')) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exit.then(() => {
      resolve();
    });
  });
  return { child, output: () => output, exit };
}

async function stop(started: Started): Promise<void> {
  if (started.child.exitCode === null) started.child.kill('SIGINT');
  await started.exit;
}

describe('npm start', function () {
  this.timeout(90_000);
  let userDir: string;
  beforeEach(() => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lfp-start-'));
  });
  afterEach(() => {
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('serves this machine only, says how many packs it simulates, and a second start keeps a deployed flow', async () => {
    const [http, sim] = [await freePort(), await freePort()];
    const args = ['--user-dir', userDir, '--http', String(http), '--sim-port', String(sim), '--packs', '2'];
    const first = await start(args);
    try {
      assert.match(first.output(), new RegExp(`bank: +tcp://127\\.0\\.0\\.1:${String(sim)} \\(simulated, 2 packs\\)`));
      assert.match(
        first.output(),
        new RegExp(`Server now running at http://127\\.0\\.0\\.1:${String(http)}/`),
        'bound to loopback',
      );
      assert.match(first.output(), /only this machine can reach it/);
      assert.match(
        first.output(),
        new RegExp(
          `inverter: +tcp://127\\.0\\.0\\.1:${String(sim + 1)} \\(emulated: Pylon CAN through an slcan adapter\\)`,
        ),
      );
      const settings = (await (await fetch(`http://127.0.0.1:${String(http)}/settings`)).json()) as {
        editorTheme?: { tours?: boolean };
        telemetryEnabled?: boolean;
      };
      assert.equal(settings.editorTheme?.tours, false, 'no tour over the demo');
      // Undecided (undefined) is what makes the editor ask about update checks on first open.
      assert.equal(settings.telemetryEnabled, false, 'no update-check question');
      // The user deploys a flow of their own.
      const flows = (await (await fetch(`http://127.0.0.1:${String(http)}/flows`)).json()) as object[];
      // The demo's bms-inverter talks to the emulated inverter.
      assert.equal(
        (flows as { type?: string; port?: string }[]).find((n) => n.type === 'bms-inverter')?.port,
        `tcp://127.0.0.1:${String(sim + 1)}`,
      );
      const mine = [...flows, { id: 'my-tab', type: 'tab', label: 'my own flow' }];
      const deployed = await fetch(`http://127.0.0.1:${String(http)}/flows`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
        body: JSON.stringify(mine),
      });
      assert.ok(deployed.ok);
    } finally {
      await stop(first);
    }
    const second = await start(args);
    try {
      assert.match(second.output(), /flows: +your flows in .*flows\.json/);
      const flows = (await (await fetch(`http://127.0.0.1:${String(http)}/flows`)).json()) as { id: string }[];
      assert.ok(
        flows.some((n) => n.id === 'my-tab'),
        'the deployed flow is still there',
      );
    } finally {
      await stop(second);
    }
    const third = await start([...args, '--reset']);
    try {
      assert.match(third.output(), /flows: +the demo flow; yours were saved as .*flows\.json\.backup-/);
      const backup = fs.readdirSync(userDir).find((f) => f.startsWith('flows.json.backup-'));
      assert.ok(
        backup && fs.readFileSync(path.join(userDir, backup), 'utf8').includes('my-tab'),
        "the backup holds the user's flow",
      );
    } finally {
      await stop(third);
    }
  });

  it('a simulator port in use is one line and exit code 2', async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => {
      busy.listen(0, '127.0.0.1', resolve);
    });
    const port = (busy.address() as net.AddressInfo).port;
    try {
      const started = await start([
        '--user-dir',
        userDir,
        '--http',
        String(await freePort()),
        '--sim-port',
        String(port),
      ]);
      assert.equal(await started.exit, 2);
      assert.equal(
        started.output().trim(),
        `port ${String(port)} is already in use (another simulator?): choose another with npm start -- --sim-port ${String(port + 1)}`,
      );
    } finally {
      busy.close();
    }
  });

  it('refuses a pack count it cannot simulate', async () => {
    const started = await start(['--user-dir', userDir, '--packs', '99']);
    assert.equal(await started.exit, 2);
    assert.equal(started.output().trim(), '--packs must be a whole number 1..15, not "99"');
  });
});
