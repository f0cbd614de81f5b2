import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A private dbus-daemon with the policy of a Venus GX system bus (anyone may own any name and call
 * anything: meta-venus system.conf), on a socket in a temporary directory. For tests, benchmarks
 * and trying the bridge on a machine without a GX.
 */
export interface PrivateBus {
  readonly address: string;
  readonly dir: string;
  /** SIGKILL the daemon (as the OOM killer would) and wait until it is gone. */
  kill(): Promise<void>;
  /** Start a new daemon on the same socket. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const CONFIG = (
  socket: string,
): string => `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
`;

function launch(config: string): Promise<ChildProcess> {
  const child = spawn('dbus-daemon', ['--config-file', config, '--nofork', '--print-address'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      reject(new Error(`dbus-daemon exited with ${String(code)}`));
    });
    child.stdout.once('data', () => {
      resolve(child);
    });
  });
}

export async function startPrivateBus(): Promise<PrivateBus> {
  const dir = mkdtempSync(join(tmpdir(), 'lfp-dbus-'));
  const socket = join(dir, 'bus.sock');
  const config = join(dir, 'bus.conf');
  writeFileSync(config, CONFIG(socket));
  let daemon: ChildProcess | undefined = await launch(config);
  const kill = async (): Promise<void> => {
    const child = daemon;
    daemon = undefined;
    if (!child || child.exitCode !== null) return;
    const gone = new Promise((resolve) => {
      child.once('exit', resolve);
    });
    child.kill('SIGKILL');
    await gone;
    rmSync(socket, { force: true });
  };
  return {
    address: `unix:path=${socket}`,
    dir,
    kill,
    restart: async () => {
      await kill();
      daemon = await launch(config);
    },
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
