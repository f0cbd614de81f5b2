// `npm start`: a simulated bank, and Node-RED with this package, Dashboard 2 and the demo flow in a
// project-local user directory. `npm start -- --port /dev/ttyUSB0` runs the same flow against a real bank.
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const require = createRequire(import.meta.url);

const usage = `usage: npm start -- [options]
  --port <device|tcp://host:port>  a real bank instead of the simulator
  --packs <n>        packs of the simulated bank (default 3)
  --sim-port <n>     TCP port of the simulated bank (default 4001; the emulated inverter takes the next)
  --http <n>         Node-RED's port (default 1880)
  --listen           serve on every network interface, not only this machine
                     (anyone on the network can then edit the flows: set adminAuth first)
  --reset            deploy the demo flow again (your flows are kept as flows.json.backup-<time>)
  --user-dir <dir>   Node-RED user directory (default .node-red in this project)`;

let values;
try {
  ({ values } = parseArgs({
    options: {
      port: { type: 'string' },
      http: { type: 'string', default: '1880' },
      packs: { type: 'string', default: '3' },
      'sim-port': { type: 'string', default: '4001' },
      listen: { type: 'boolean', default: false },
      reset: { type: 'boolean', default: false },
      'user-dir': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  }));
} catch (err) {
  process.stderr.write(`${err.message}\n${usage}\n`);
  process.exit(2);
}
if (values.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}
const fail = (message) => {
  process.stderr.write(`${message}\n`);
  process.exit(2);
};
const whole = (text, name, min, max) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max)
    fail(`--${name} must be a whole number ${min}..${max}, not "${text}"`);
  return n;
};
const packs = whole(values.packs, 'packs', 1, 15);
const simPort = whole(values['sim-port'], 'sim-port', 1, 65535);
const httpPort = whole(values.http, 'http', 1, 65535);

const userDir = path.resolve(values['user-dir'] ?? path.join(root, '.node-red'));
mkdirSync(path.join(userDir, 'node_modules'), { recursive: true });
// This package, installed into the user directory the way the palette manager would link it.
const self = path.join(userDir, 'node_modules', 'node-red-contrib-lifepo4-bms');
if (existsSync(self) && !lstatSync(self).isSymbolicLink()) rmSync(self, { recursive: true });
if (!existsSync(self)) symlinkSync(root, self, 'dir');
// Dashboard 2 is a devDependency; link it into the user directory too.
const dashboardFrom = path.dirname(require.resolve('@flowfuse/node-red-dashboard/package.json'));
const dashboardTo = path.join(userDir, 'node_modules', '@flowfuse', 'node-red-dashboard');
mkdirSync(path.dirname(dashboardTo), { recursive: true });
if (!existsSync(dashboardTo)) symlinkSync(dashboardFrom, dashboardTo, 'dir');

let sim;
let port = values.port;
if (!port) {
  const { SimulatedBank, SimServer } = require(path.join(root, 'dist', 'src', 'sim'));
  const bank = new SimulatedBank({ packs, current: -25 });
  // A gentle charge/discharge swing so the dashboard has something to show.
  let t = 0;
  const swing = setInterval(() => {
    t += 1;
    bank.setCurrent(Math.round(40 * Math.sin(t / 30)));
  }, 2000);
  sim = { server: new SimServer({ bank, port: simPort, latencyMs: 30 }), swing };
  try {
    ({ tcp: port } = await sim.server.start());
  } catch (err) {
    clearInterval(swing);
    if (err.code === 'EADDRINUSE')
      fail(
        `port ${simPort} is already in use (another simulator?): choose another with npm start -- --sim-port ${simPort + 1}`,
      );
    fail(`cannot start the simulated bank: ${err.message}`);
  }
}

// An emulated inverter behind an slcan adapter, for the demo's bms-inverter (on the port after the
// simulator's, as the demo flow expects). Left out, with a note, when that port is taken.
const inverterListen = simPort + 1 <= 65535 ? simPort + 1 : simPort - 1;
let inverter;
let inverterPort;
{
  const { SlcanInverterSim } = require(path.join(root, 'dist', 'src', 'sim'));
  const candidate = new SlcanInverterSim({ port: inverterListen });
  try {
    ({ tcp: inverterPort } = await candidate.start());
    inverter = candidate;
  } catch {
    await candidate.stop().catch(() => undefined);
  }
}

// The user's flows are never overwritten: the demo is deployed only into an empty user directory, or
// on --reset after a backup.
const flowFile = path.join(userDir, 'flows.json');
let flowNote;
if (existsSync(flowFile) && !values.reset) {
  flowNote = `your flows in ${flowFile} (npm start -- --reset deploys the demo again)`;
} else {
  if (existsSync(flowFile)) {
    const backup = `${flowFile}.backup-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    copyFileSync(flowFile, backup);
    flowNote = `the demo flow; yours were saved as ${backup}`;
  } else {
    flowNote = 'the demo flow';
  }
  const flows = JSON.parse(readFileSync(path.join(root, 'examples', 'flows.json'), 'utf8'));
  for (const node of flows) {
    if (node.type === 'bms-link') {
      node.port = port;
      node.name = values.port ? 'bank' : 'simulated bank';
    }
    if (node.type === 'bms-inverter') node.port = `tcp://127.0.0.1:${inverterListen}`;
  }
  writeFileSync(flowFile, JSON.stringify(flows, null, 2));
}

const host = values.listen ? '0.0.0.0' : '127.0.0.1';
const red = spawn(
  process.execPath,
  [
    require.resolve('node-red/red.js'),
    '--userDir',
    userDir,
    '--port',
    String(httpPort),
    '--settings',
    path.join(root, 'scripts', 'demo-settings.cjs'),
    'flows.json',
  ],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, LFP_BMS_UI_HOST: host },
  },
);
red.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  if (String(chunk).includes('Started flows')) {
    const base = `http://127.0.0.1:${httpPort}`;
    const reach = values.listen
      ? '  listening on every interface: anyone on your network can change these flows unless adminAuth is set in the settings\n'
      : '  only this machine can reach it (npm start -- --listen to serve the network)\n';
    process.stdout.write(
      `\n  bank:      ${port}${sim ? ` (simulated, ${packs} pack${packs === 1 ? '' : 's'})` : ''}\n  inverter:  ${inverterPort ? `${inverterPort} (emulated: Pylon CAN through an slcan adapter)` : `none: port ${inverterListen} is in use`}\n  flows:     ${flowNote}\n  editor:    ${base}/\n  dashboard: ${base}/dashboard\n${reach}\n  stop with Ctrl-C\n\n`,
    );
  }
});

const stopSim = async () => {
  if (!sim) return;
  clearInterval(sim.swing);
  await sim.server.stop();
  sim = undefined;
};
const stop = () => {
  red.kill('SIGINT');
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
red.on('exit', async (code) => {
  await stopSim();
  await inverter?.stop();
  process.exit(code ?? 0);
});
