import assert from 'node:assert/strict';
import { listSerialPorts } from '../../src/link';
import { startNodeRed, type RunningRed } from '../helpers/red-process';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- Node-RED's own password hashing (a dependency of node-red)
const bcrypt = require('bcryptjs') as { hashSync(password: string, rounds: number): string };

describe('admin API with adminAuth: the serial-port list needs the bms-link read permission', function () {
  this.timeout(60_000);
  let red: RunningRed;
  before(async () => {
    red = await startNodeRed({
      adminAuth: {
        type: 'credentials',
        users: [
          { username: 'reader', password: bcrypt.hashSync('reader-password', 8), permissions: 'read' },
          { username: 'nobody', password: bcrypt.hashSync('nobody-password', 8), permissions: 'flows.read' },
        ],
      },
    });
  });
  after(async () => {
    await (red as RunningRed | undefined)?.stop();
  });

  const token = async (username: string, password: string, scope: string): Promise<string> => {
    const response = await fetch(`${red.base}/auth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ client_id: 'node-red-admin', grant_type: 'password', scope, username, password }),
    });
    assert.equal(response.status, 200);
    return ((await response.json()) as { access_token: string }).access_token;
  };

  it('refuses without a login and without the permission, lists the ports with it', async () => {
    assert.equal((await fetch(`${red.base}/lifepo4-bms/ports`)).status, 401);
    const denied = await fetch(`${red.base}/lifepo4-bms/ports`, {
      headers: { Authorization: `Bearer ${await token('nobody', 'nobody-password', 'flows.read')}` },
    });
    assert.equal(denied.status, 401, 'Node-RED answers a missing permission with 401 too');
    const allowed = await fetch(`${red.base}/lifepo4-bms/ports`, {
      headers: { Authorization: `Bearer ${await token('reader', 'reader-password', 'read')}` },
    });
    assert.equal(allowed.status, 200);
    assert.deepEqual(await allowed.json(), await listSerialPorts());
  });
});
