// The node tests once more under Node-RED 3.1 (Venus OS v3.6x ships 3.1.15): that runtime is installed
// from npm into .test-runtimes/ (not into this project's node_modules, nothing global), then mocha runs
// test/nodes with the test helper pointed at it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const VERSION = '3.1.15';
const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const dir = path.join(root, '.test-runtimes', `node-red-${VERSION}`);
const installed = path.join(dir, 'node_modules', 'node-red', 'package.json');
const run = (cmd, args, options = {}) => {
  const result = spawnSync(cmd, args, { stdio: 'inherit', ...options });
  if (result.status !== 0) process.exit(result.status ?? 1);
};

if (!existsSync(installed) || JSON.parse(readFileSync(installed, 'utf8')).version !== VERSION) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ private: true, dependencies: { 'node-red': VERSION } }, null, 2),
  );
  process.stdout.write(`installing Node-RED ${VERSION} into ${path.relative(root, dir)} …\n`);
  // No optional native addons (bcrypt): a GX has no compiler either.
  run('npm', ['install', '--no-audit', '--no-fund', '--omit=optional', '--loglevel=error'], { cwd: dir });
}
process.stdout.write(`node tests under Node-RED ${VERSION}\n`);
run(
  process.execPath,
  [
    path.join(root, 'node_modules', 'mocha', 'bin', 'mocha.js'),
    '--no-config',
    '--node-option',
    'import=tsx',
    '--timeout',
    '20000',
    '--reporter',
    'dot',
    'test/nodes/*.test.ts',
  ],
  {
    cwd: root,
    env: { ...process.env, LFP_NODE_RED: path.join(dir, 'node_modules', 'node-red'), LFP_NODE_RED_EXPECT: VERSION },
  },
);
