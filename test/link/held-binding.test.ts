import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BindingInterface, OpenOptions } from '@serialport/bindings-interface';
import { HeldBinding } from '../../src/link/transport';

/**
 * Which read a serial port's bytes come from. The port's descriptor is a file holding "FROM-FD";
 * the binding's own read answers "BINDING". Unix bindings (a poller on a descriptor) are read at
 * once on the event loop; Windows' binding has an `fd` too, but it is a handle: only its own read.
 */
describe('serial reads: straight from the descriptor only where the binding polls one', () => {
  let dir: string;
  let fd: number;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lfp-held-'));
    const file = join(dir, 'port');
    writeFileSync(file, 'FROM-FD');
    fd = openSync(file, 'r');
  });
  afterEach(() => {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  });

  /** A binding whose port has `fd` and, like the Unix bindings, optionally a poller. */
  const binding = (withPoller: boolean, bindingReads: { n: number }): BindingInterface => {
    const port = {
      openOptions: { path: '/dev/fake', baudRate: 9600 },
      isOpen: true,
      fd,
      ...(withPoller
        ? {
            poller: {
              once: (_event: 'readable', listener: (err?: Error | null) => void) => {
                setImmediate(() => {
                  listener(null);
                });
              },
            },
          }
        : {}),
      read: (buffer: Buffer, offset: number): Promise<{ buffer: Buffer; bytesRead: number }> => {
        bindingReads.n++;
        return Promise.resolve({ buffer, bytesRead: buffer.write('BINDING', offset, 'latin1') });
      },
    };
    // A stand-in for the platform binding: only what HeldBinding and HeldPort use of it.
    return {
      list: () => Promise.resolve([]),
      open: (_options: OpenOptions) => Promise.resolve(port),
    } as unknown as BindingInterface;
  };

  const readOnce = async (withPoller: boolean): Promise<{ text: string; bindingReads: number }> => {
    const bindingReads = { n: 0 };
    const port = await new HeldBinding(binding(withPoller, bindingReads)).open({ path: '/dev/fake', baudRate: 9600 });
    const buffer = Buffer.alloc(64);
    const { bytesRead } = await port.read(buffer, 0, 64);
    return { text: buffer.toString('latin1', 0, bytesRead), bindingReads: bindingReads.n };
  };

  it('a Unix binding (a poller on a descriptor): the bytes are read from the descriptor once it is readable', async () => {
    assert.deepEqual(await readOnce(true), { text: 'FROM-FD', bindingReads: 0 });
  });

  it('a binding without a poller (Windows: `fd` is a handle): its own read, never the descriptor', async () => {
    assert.deepEqual(await readOnce(false), { text: 'BINDING', bindingReads: 1 });
  });

  it('nothing to read from the descriptor (end of file): the binding reads, as it would have', async () => {
    const bindingReads = { n: 0 };
    const port = await new HeldBinding(binding(true, bindingReads)).open({ path: '/dev/fake', baudRate: 9600 });
    const buffer = Buffer.alloc(64);
    assert.equal((await port.read(buffer, 0, 64)).bytesRead, 7);
    const second = await port.read(buffer, 0, 64);
    assert.equal(buffer.toString('latin1', 0, second.bytesRead), 'BINDING');
    assert.equal(bindingReads.n, 1);
  });
});
