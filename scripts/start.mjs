// `npm start`: a simulated 3-pack bank on TCP, Node-RED 4.1 with this package and FlowFuse
// Dashboard 2 in a project-local user directory, and the demo flow wired to the simulator.
// `npm start -- --port /dev/ttyUSB0` runs the same flow against a real bank instead.
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const require = createRequire(import.meta.url);
const { values } = parseArgs({
  options: { port: { type: 'string' }, http: { type: 'string', default: '1880' }, packs: { type: 'string', default: '3' } },
});

const userDir = path.join(root, '.node-red');
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
  const bank = new SimulatedBank({ packs: Number(values.packs), current: -25 });
  // A gentle charge/discharge swing so the dashboard has something to show.
  let t = 0;
  const swing = setInterval(() => { t += 1; bank.setCurrent(Math.round(40 * Math.sin(t / 30))); }, 2000);
  sim = { server: new SimServer({ bank, port: 4001, latencyMs: 30 }), swing };
  ({ tcp: port } = await sim.server.start());
}

const flows = JSON.parse(readFileSync(path.join(root, 'examples', 'flows.json'), 'utf8'));
for (const node of flows) {
  if (node.type === 'bms-link') {
    node.port = port;
    node.name = values.port ? 'bank' : 'simulated bank';
  }
}
writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flows, null, 2));

const red = spawn(process.execPath, [require.resolve('node-red/red.js'), '--userDir', userDir, '--port', values.http, 'flows.json'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
red.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  if (String(chunk).includes('Started flows')) {
    const base = `http://127.0.0.1:${values.http}`;
    process.stdout.write(`\n  bank:      ${port}${sim ? ' (simulated, 3 packs)' : ''}\n  editor:    ${base}/\n  dashboard: ${base}/dashboard\n\n  stop with Ctrl-C\n\n`);
  }
});

const stop = async () => {
  red.kill('SIGINT');
  if (sim) {
    clearInterval(sim.swing);
    await sim.server.stop();
  }
};
process.once('SIGINT', () => { void stop(); });
process.once('SIGTERM', () => { void stop(); });
red.on('exit', async (code) => {
  if (sim) {
    clearInterval(sim.swing);
    await sim.server.stop();
  }
  process.exit(code ?? 0);
});
