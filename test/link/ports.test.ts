import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LinkError, isMissingPort, listSerialPorts } from '../../src/link';

describe('link: serial ports on this machine', () => {
  it('lists /dev/serial/by-id names first, then USB and on-board UARTs, without udevadm; legacy ttyS left out', async () => {
    const dev = mkdtempSync(join(tmpdir(), 'lfp-dev-'));
    try {
      mkdirSync(join(dev, 'serial', 'by-id'), { recursive: true });
      for (const n of ['ttyUSB1', 'ttyUSB0', 'ttyACM0', 'ttyS0', 'ttyS31', 'tty', 'null'])
        writeFileSync(join(dev, n), '');
      writeFileSync(join(dev, 'serial', 'by-id', 'usb-FTDI_FT232R_USB_UART_A10K0ABC-if00-port0'), '');
      assert.deepEqual(await listSerialPorts(dev), [
        join(dev, 'serial', 'by-id', 'usb-FTDI_FT232R_USB_UART_A10K0ABC-if00-port0'),
        join(dev, 'ttyACM0'),
        join(dev, 'ttyUSB0'),
        join(dev, 'ttyUSB1'),
      ]);
      assert.deepEqual(await listSerialPorts(join(dev, 'nowhere')), []);
    } finally {
      rmSync(dev, { recursive: true, force: true });
    }
  });

  it('tells a port that does not exist from other failures', () => {
    assert.equal(
      isMissingPort(
        new LinkError(
          'open-failed',
          'cannot open /dev/ttyUSB9 at 9600 Bd: No such file or directory, cannot open /dev/ttyUSB9',
        ),
      ),
      true,
    );
    assert.equal(
      isMissingPort(new LinkError('open-failed', 'cannot open /dev/ttyUSB0 at 9600 Bd: Permission denied')),
      false,
    );
    assert.equal(isMissingPort(new LinkError('timeout', 'No such file or directory')), false);
    assert.equal(isMissingPort(new Error('No such file or directory')), false);
  });
});
