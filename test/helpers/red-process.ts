import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';

const root = path.resolve(__dirname, '../..');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
    server.on('error', reject);
  });
}

export interface RunningRed {
  readonly base: string;
  readonly child: ChildProcess;
  readonly userDir: string;
  /** Everything Node-RED printed so far. */
  output(): string;
  /** Resolves with the first printed line matching `pattern` (also one printed before the call). */
  waitForLine(pattern: RegExp): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Node-RED 4.1 in a fresh user directory with this package (or a copy of it at `packageDir`) and
 * Dashboard 2 linked in, as installed.
 */
export async function startNodeRed(settings: Record<string, unknown> = {}, packageDir = root): Promise<RunningRed> {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lfp-bms-red-'));
  fs.mkdirSync(path.join(userDir, 'node_modules', '@flowfuse'), { recursive: true });
  fs.symlinkSync(packageDir, path.join(userDir, 'node_modules', 'node-red-contrib-lifepo4-bms'), 'dir');
  fs.symlinkSync(
    path.dirname(require.resolve('@flowfuse/node-red-dashboard/package.json')),
    path.join(userDir, 'node_modules', '@flowfuse', 'node-red-dashboard'),
    'dir',
  );
  fs.writeFileSync(path.join(userDir, 'flows.json'), '[]');
  // No first-run tour or update-notification prompt over the editor.
  fs.writeFileSync(
    path.join(userDir, 'settings.js'),
    `module.exports = ${JSON.stringify({ flowFile: 'flows.json', editorTheme: { tours: false }, telemetry: { enabled: false }, ...settings })};\n`,
  );
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [require.resolve('node-red/red.js'), '--userDir', userDir, '--port', String(port), 'flows.json'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('Started flows')) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      reject(new Error(`Node-RED exited (${String(code)}): ${output.slice(-2000)}`));
    });
  });
  assert.doesNotMatch(output, /\[error\].*(bms|lifepo4)/i, 'the package loads without errors');
  return {
    base: `http://127.0.0.1:${String(port)}`,
    child,
    userDir,
    output: () => output,
    waitForLine: (pattern) =>
      new Promise((resolve) => {
        const check = (): boolean => {
          const line = output.split('\n').find((l) => pattern.test(l));
          if (line === undefined) return false;
          child.stdout.off('data', check);
          child.stderr.off('data', check);
          resolve(line);
          return true;
        };
        if (!check()) {
          child.stdout.on('data', check);
          child.stderr.on('data', check);
        }
      }),
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGINT');
      await exited;
      fs.rmSync(userDir, { recursive: true, force: true });
    },
  };
}

/** Debian's Chromium, headless. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
