import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { freePort } from './red-process';

export interface Broker {
  readonly port: number;
  readonly url: string;
  /** Stops the broker (its retained messages go with it: no persistence). */
  stop(): Promise<void>;
}

/** Debian's mosquitto on a loopback port, without persistence; `port` to start on a reserved one. */
export async function startBroker(port?: number): Promise<Broker> {
  const use = port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'lfp-mosquitto-'));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    `listener ${String(use)} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n`,
  );
  const child: ChildProcess = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      reject(new Error(`mosquitto exited with ${String(code)}: ${log}`));
    });
    const collect = (d: Buffer): void => {
      // Kept only until it runs; read on so the pipe never fills.
      if (log.length < 10_000) log += d.toString();
      if (/ running/.test(log)) resolve();
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
  });
  child.removeAllListeners('exit');
  return {
    port: use,
    url: `mqtt://127.0.0.1:${String(use)}`,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Received {
  readonly topic: string;
  readonly payload: string;
  readonly retain: boolean;
}

/** A client that records what it receives and can wait for a message it expects. */
export class Observer {
  readonly messages: Received[] = [];
  private waiters: { test: (m: Received) => boolean; resolve: (m: Received) => void }[] = [];

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      const m = { topic, payload: payload.toString(), retain: packet.retain };
      this.messages.push(m);
      this.waiters = this.waiters.filter((w) => {
        if (!w.test(m)) return true;
        w.resolve(m);
        return false;
      });
    });
  }

  static async connect(url: string, filter: string | string[]): Promise<Observer> {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
    const observer = new Observer(client);
    await client.subscribeAsync(filter);
    return observer;
  }

  /** The next message (from now, or already received when `past`) that passes `test`. */
  next(test: (m: Received) => boolean, past = false): Promise<Received> {
    const seen = past ? this.messages.find(test) : undefined;
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => {
      this.waiters.push({ test, resolve });
    });
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}

/**
 * The broker's retained messages under `filter` now: a fresh subscription gets every retained
 * message first, then a marker this client publishes after subscribing ends the list.
 */
export async function retained(url: string, filter: string): Promise<Map<string, string>> {
  const observer = await Observer.connect(url, [filter, 'lfp-test/marker']);
  try {
    const marker = String(Math.random());
    const done = observer.next((m) => m.topic === 'lfp-test/marker' && m.payload === marker);
    await observer.client.publishAsync('lfp-test/marker', marker);
    await done;
    return new Map(observer.messages.filter((m) => m.retain && m.payload !== '').map((m) => [m.topic, m.payload]));
  } finally {
    await observer.close();
  }
}
