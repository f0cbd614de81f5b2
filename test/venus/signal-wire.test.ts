import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BusItemExporter, BusItemTree, BUSITEM } from '../../src/venus/busitem';
import { Message, Variant, sessionBus, type MessageBus } from '../../src/venus/dbus';
import { addMatch } from '../../src/venus/settings';
import { encodeItemsChanged, encodePropertiesChanged, wireSafe, type WireItem } from '../../src/venus/signal-wire';
import { toVariant, type ItemSpec } from '../../src/venus/values';
import { startBus, type RunningBus } from '../helpers/dbus';

/** The bytes a bus connection writes to the daemon, as they are written. */
function tapWrites(bus: MessageBus): { writes: Buffer[]; restore: () => void } {
  const stream = (bus as unknown as { _connection: { stream: { write: (data: unknown) => boolean } } })._connection
    .stream;
  const write = stream.write.bind(stream);
  const writes: Buffer[] = [];
  stream.write = (data: unknown): boolean => {
    writes.push(Buffer.from(data as Buffer));
    return write(data);
  };
  return {
    writes,
    restore: () => {
      stream.write = write;
    },
  };
}

const item = (type: ItemSpec['type'], value: WireItem['value'], text: string): WireItem => ({ type, value, text });

/** Values as the items carry them: doubles at any precision, int32s, text in any script, invalid. */
const wireItem: fc.Arbitrary<WireItem> = fc
  .oneof(
    fc.record({ type: fc.constant('d' as const), value: fc.double({ noNaN: true, noDefaultInfinity: true }) }),
    fc.record({ type: fc.constant('i' as const), value: fc.integer({ min: -0x80000000, max: 0x7fffffff }) }),
    fc.record({ type: fc.constant('s' as const), value: fc.string({ unit: 'grapheme', maxLength: 40 }) }),
    fc.record({ type: fc.constantFrom('d' as const, 'i' as const, 's' as const), value: fc.constant(null) }),
  )
  .chain((v) => fc.string({ unit: 'grapheme', maxLength: 20 }).map((text) => item(v.type, v.value, text)));
const itemPath = fc
  .array(fc.stringMatching(/^[A-Za-z0-9_]{1,12}$/), { minLength: 1, maxLength: 4 })
  .map((parts) => `/${parts.join('/')}`);

/** What the D-Bus library sends for the same item: its Variant for the value, and the text. */
const libraryItem = (i: WireItem): { Value: Variant; Text: Variant } => ({
  Value: toVariant({ type: i.type }, i.value),
  Text: new Variant('s', i.text),
});

describe('BusItem change signals written as D-Bus bytes (a real dbus-daemon)', function () {
  this.timeout(60_000);
  let daemon: RunningBus;
  let bus: MessageBus;

  before(async () => {
    daemon = await startBus();
    bus = sessionBus({ busAddress: daemon.address });
    await bus.requestName('com.victronenergy.battery.wiretest', 0);
  });
  after(async () => {
    bus.disconnect();
    await daemon.stop();
  });

  it('ItemsChanged and PropertiesChanged are byte for byte what the D-Bus library marshals (property test)', async () => {
    const tap = tapWrites(bus);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(fc.tuple(itemPath, wireItem), { selector: ([p]) => p, minLength: 1, maxLength: 12 }),
          async (items) => {
            tap.writes.length = 0;
            const itemsSignal = Message.newSignal('/', BUSITEM, 'ItemsChanged', 'a{sa{sv}}', [
              Object.fromEntries(items.map(([p, i]) => [p, libraryItem(i)])),
            ]);
            bus.send(itemsSignal);
            const [path, one] = items[0] ?? ['/', item('i', 0, '')];
            const propertiesSignal = Message.newSignal(path, BUSITEM, 'PropertiesChanged', 'a{sv}', [libraryItem(one)]);
            bus.send(propertiesSignal);
            await new Promise((resolve) => setImmediate(resolve));
            assert.equal(tap.writes.length, 2);
            assert.deepEqual(encodeItemsChanged(itemsSignal.serial ?? 0, BUSITEM, items), tap.writes[0]);
            assert.deepEqual(encodePropertiesChanged(propertiesSignal.serial ?? 0, BUSITEM, path, one), tap.writes[1]);
          },
        ),
        { numRuns: 300 },
      );
    } finally {
      tap.restore();
    }
  });

  it('a service publishing changes writes them itself, and a client on the bus reads the values back', async () => {
    const specs = new Map<string, ItemSpec>([
      ['/Dc/0/Voltage', { type: 'd', unit: 'V', decimals: 2 }],
      ['/Soc', { type: 'd', unit: '%', decimals: 1 }],
      ['/Alarms/LowVoltage', { type: 'i' }],
      ['/System/MinVoltageCellId', { type: 's' }],
      ['/Info/MaxChargeCurrent', { type: 'd', unit: 'A', decimals: 1 }],
    ]);
    const tree = new BusItemTree(specs);
    const exporter = new BusItemExporter(bus, tree, () => 1);
    exporter.attach();
    const client = sessionBus({ busAddress: daemon.address });
    try {
      const received: { path: string | undefined; member: string | undefined; body: unknown[] }[] = [];
      let allSix: () => void = () => undefined;
      const sixReceived = new Promise<void>((resolve) => (allSix = resolve));
      await addMatch(client, `type='signal',interface='${BUSITEM}'`, 5000);
      client.on('message', (msg: Message) => {
        if (msg.interface !== BUSITEM) return;
        received.push({ path: msg.path, member: msg.member, body: msg.body });
        if (received.length === 6) allSix();
      });
      const sent: Message[] = [];
      const send = bus.send.bind(bus);
      bus.send = (msg: Message): void => {
        sent.push(msg);
        send(msg);
      };
      tree.set('/Dc/0/Voltage', 53.216);
      tree.set('/Soc', 87.25);
      tree.set('/Alarms/LowVoltage', 2);
      tree.set('/System/MinVoltageCellId', 'P03C07 — µ°');
      const paths = [
        '/Dc/0/Voltage',
        '/Soc',
        '/Alarms/LowVoltage',
        '/System/MinVoltageCellId',
        '/Info/MaxChargeCurrent',
      ];
      const tap = tapWrites(bus);
      assert.deepEqual(exporter.emitChanges(paths), { signals: 6 });
      tap.restore();
      bus.send = send;
      // Not through the library's messages: written as bytes, the six signals in one write.
      assert.equal(sent.length, 0);
      assert.equal(tap.writes.length, 1);
      await sixReceived;

      const itemsChanged = received.find((r) => r.member === 'ItemsChanged');
      assert.ok(itemsChanged);
      const all = itemsChanged.body[0] as Record<string, { Value: Variant; Text: Variant } | undefined>;
      assert.deepEqual(Object.keys(all), paths);
      assert.equal(all['/Dc/0/Voltage']?.Value.value, 53.22);
      assert.equal(all['/Dc/0/Voltage'].Text.value, '53.22V');
      assert.equal(all['/Soc']?.Value.value, 87.3);
      assert.equal(all['/Alarms/LowVoltage']?.Value.signature, 'i');
      assert.equal(all['/Alarms/LowVoltage'].Value.value, 2);
      assert.equal(all['/System/MinVoltageCellId']?.Value.value, 'P03C07 — µ°');
      // Invalid: an empty int32 array, and the text '---'.
      assert.equal(all['/Info/MaxChargeCurrent']?.Value.signature, 'ai');
      assert.deepEqual(all['/Info/MaxChargeCurrent'].Value.value, []);
      assert.equal(all['/Info/MaxChargeCurrent'].Text.value, '---');
      const soc = received.find((r) => r.member === 'PropertiesChanged' && r.path === '/Soc');
      assert.equal((soc?.body[0] as { Value: Variant }).Value.value, 87.3);
    } finally {
      exporter.detach();
      client.disconnect();
    }
  });

  it('what the wire format cannot carry as it is stays with the D-Bus library', () => {
    assert.equal(wireSafe([['/Soc', item('d', 50, '50%')]]), true);
    assert.equal(wireSafe([['/Soc', item('d', null, '---')]]), true);
    assert.equal(wireSafe([['/So\0c', item('d', 50, '50%')]]), false);
    assert.equal(wireSafe([['/Serial', item('s', 'AB\0C', 'AB')]]), false);
    assert.equal(wireSafe([['/Serial', item('s', 'ABC', 'A\0BC')]]), false);
    assert.equal(wireSafe([['/Alarms/X', item('i', 2 ** 31, '')]]), false);
    assert.equal(wireSafe([['/Alarms/X', item('i', 1.5, '')]]), false);
    assert.equal(wireSafe([['/Soc', item('d', Number.POSITIVE_INFINITY, '')]]), false);
    assert.equal(wireSafe([['/Soc', item('d', '50', '')]]), false);
  });
});
