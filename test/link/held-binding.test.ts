import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
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

/**
 * Which write a request goes out by. The port's descriptor is the writing end of a FIFO, the test
 * reads the other end; the binding's own write records what it was given. Unix bindings write
 * straight into the descriptor; whatever does not go at once is the binding's to write.
 */
describe('serial writes: straight into the descriptor only where the binding polls one', () => {
  let dir: string;
  let fifo: string;
  let reader: number;
  let writer: number;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lfp-held-'));
    fifo = join(dir, 'port');
    execFileSync('mkfifo', [fifo]);
    reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  });
  afterEach(() => {
    closeSync(writer);
    closeSync(reader);
    rmSync(dir, { recursive: true, force: true });
  });

  const opened = async (
    withPoller: boolean,
    fd: number,
  ): Promise<{ port: Awaited<ReturnType<HeldBinding['open']>>; bindingWrites: Buffer[] }> => {
    const bindingWrites: Buffer[] = [];
    const port = {
      openOptions: { path: '/dev/fake', baudRate: 9600 },
      isOpen: true,
      fd,
      ...(withPoller ? { poller: { once: () => undefined } } : {}),
      write: (buffer: Buffer): Promise<void> => {
        bindingWrites.push(Buffer.from(buffer));
        return Promise.resolve();
      },
    };
    // A stand-in for the platform binding: only what HeldBinding and HeldPort use of it.
    const inner = {
      list: () => Promise.resolve([]),
      open: (_options: OpenOptions) => Promise.resolve(port),
    } as unknown as BindingInterface;
    return { port: await new HeldBinding(inner).open({ path: '/dev/fake', baudRate: 9600 }), bindingWrites };
  };

  /** Fills the FIFO until the kernel takes nothing more (EAGAIN). */
  const fill = (): void => {
    const block = Buffer.alloc(4096, 0x41);
    for (;;) {
      try {
        writeSync(writer, block);
      } catch {
        return;
      }
    }
  };

  /** Everything waiting in the FIFO. */
  const drained = (): string => {
    const buffer = Buffer.alloc(1 << 20);
    let text = '';
    for (;;) {
      try {
        const n = readSync(reader, buffer, 0, buffer.length, null);
        if (n <= 0) return text;
        text += buffer.toString('latin1', 0, n);
      } catch {
        return text;
      }
    }
  };

  it('a Unix binding: the request goes into the descriptor, the binding writes nothing', async () => {
    const { port, bindingWrites } = await opened(true, writer);
    await port.write(Buffer.from('~22014A42E00201FD35\r', 'latin1'));
    assert.equal(drained(), '~22014A42E00201FD35\r');
    assert.deepEqual(bindingWrites, []);
  });

  it('a binding without a poller (Windows: `fd` is a handle): its own write, never the descriptor', async () => {
    const { port, bindingWrites } = await opened(false, writer);
    await port.write(Buffer.from('REQUEST', 'latin1'));
    assert.equal(drained(), '');
    assert.deepEqual(bindingWrites.map(String), ['REQUEST']);
  });

  it('a full kernel buffer (EAGAIN) or a descriptor that cannot be written: the binding writes all of it', async () => {
    const { port, bindingWrites } = await opened(true, writer);
    fill();
    await port.write(Buffer.from('REQUEST', 'latin1'));
    const readOnly = await opened(true, reader);
    await readOnly.port.write(Buffer.from('AGAIN', 'latin1'));
    assert.deepEqual([...bindingWrites, ...readOnly.bindingWrites].map(String), ['REQUEST', 'AGAIN']);
  });

  it('a part the kernel did not take: the binding writes the rest, nothing twice', async () => {
    const { port, bindingWrites } = await opened(true, writer);
    // Leave 4 KB free, then write 8 KB: a FIFO takes what fits of a write larger than PIPE_BUF.
    fill();
    readSync(reader, Buffer.alloc(4096), 0, 4096, null);
    const request = Buffer.from(Array.from({ length: 8192 }, (_, i) => 48 + (i % 10)));
    await port.write(request);
    const direct = drained();
    assert.equal(bindingWrites.length, 1);
    const rest = bindingWrites[0] ?? Buffer.alloc(0);
    assert.ok(rest.length > 0 && rest.length < request.length, String(rest.length));
    assert.equal(direct.slice(-(request.length - rest.length)) + rest.toString('latin1'), request.toString('latin1'));
  });
});
