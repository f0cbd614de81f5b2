import assert from 'node:assert/strict';
import type { Node } from 'node-red';
import { BankConnection, SITUATION_TEXTS, type BankCycle, type ConnectionState } from '../../src/link';
import { englishTexts } from '../../nodes/shared/i18n';
import { connectionStatus, subscribe } from '../../nodes/shared/subscribe';
import type { BmsLinkConfigNode, NodeStatus } from '../../nodes/shared/types';

/** A bms-link as its users see it, on a connection that is never started: the test emits its news. */
function fakeLink(): { link: BmsLinkConfigNode; users: Set<unknown>; connection: BankConnection } {
  const connection = new BankConnection({ port: 'tcp://never.test:1' });
  const users = new Set<unknown>();
  const link = {
    connection,
    allowWrites: false,
    configError: undefined,
    register: (user: unknown) => {
      users.add(user);
    },
    deregister: (user: unknown) => {
      users.delete(user);
      return Promise.resolve();
    },
  } as unknown as BmsLinkConfigNode;
  return { link, users, connection };
}

const cycle: BankCycle = { mode: 'broadcast', startedAt: 0, durationMs: 1, packs: [] };

describe('nodes: one way to follow a link', () => {
  it("a handler that throws is the node's error; the other nodes on the link still get the cycle", () => {
    const { link, connection } = fakeLink();
    const errors: string[] = [];
    const node = {
      type: 'bms-pack',
      error: (text: string) => {
        errors.push(text);
      },
    } as unknown as Node;
    const other = { type: 'bms-pack', error: () => undefined } as unknown as Node;
    let second = 0;
    subscribe(node, link, {
      cycle: () => {
        throw new Error('no such field');
      },
    });
    subscribe(other, link, {
      cycle: () => {
        second++;
      },
    });
    connection.emit('cycle', cycle);
    assert.deepEqual(errors, ['bms-pack: no such field']);
    assert.equal(second, 1);
  });

  it("shows the link's phase until data arrives and again when the link leaves polling; close lets go of the port", async () => {
    const { link, users, connection } = fakeLink();
    const shown: NodeStatus[] = [];
    const node = { type: 'bms-parallel', error: () => undefined } as unknown as Node;
    const subscription = subscribe(node, link, {
      cycle: () => undefined,
      status: (s) => {
        shown.push(s);
      },
    });
    assert.equal(users.size, 1);
    const online: ConnectionState = {
      phase: 'polling',
      situation: 'packsOnline',
      vars: { online: 3, packs: 3 },
      text: '3/3 packs',
    };
    connection.emit('state', { phase: 'detecting', situation: 'detecting', text: 'detecting' });
    connection.emit('state', {
      phase: 'polling',
      situation: 'foundPacks',
      vars: { dialect: 'pace', packs: 3 },
      text: 'pace, 3 packs',
    });
    connection.emit('cycle', cycle);
    connection.emit('state', online);
    connection.emit('state', { phase: 'error', situation: 'disconnected', text: 'disconnected' });
    connection.emit('state', online);
    assert.deepEqual(shown, [
      { fill: 'yellow', shape: 'ring', text: 'detecting' },
      { fill: 'green', shape: 'ring', text: 'pace, 3 packs' },
      { fill: 'red', shape: 'ring', text: 'disconnected' },
      { fill: 'green', shape: 'ring', text: '3/3 packs' },
    ]);
    await subscription?.close();
    assert.equal(users.size, 0);
    assert.equal(connection.listenerCount('cycle') + connection.listenerCount('state'), 0);
  });

  it('the colour comes from the phase and the words from the situation, whatever the text says', () => {
    const polling = connectionStatus({ phase: 'polling', situation: 'connected', text: 'error 3/3' });
    assert.deepEqual(polling, { fill: 'green', shape: 'ring', text: 'connected' });
    assert.equal(connectionStatus({ phase: 'error', situation: 'portError', text: 'polling' }).fill, 'red');
    assert.equal(connectionStatus({ phase: 'stopped', situation: 'stopped', text: 'stopped' }).fill, 'grey');
  });

  it("every situation's catalog text is the connection's own English text", () => {
    const vars = { dialect: 'pace', packs: 3, online: 2 };
    for (const [situation, english] of Object.entries(SITUATION_TEXTS))
      assert.equal(
        englishTexts(`bms-link.state.${situation}`, vars),
        english.replace(/__(\w+)__/g, (_, name: string) => String(vars[name as keyof typeof vars])),
        situation,
      );
  });
});
