import { EventEmitter } from 'node:events';
import { Message, MessageType, Variant, sessionBus, type MessageBus } from '../../src/venus/dbus';

const BATTERY = 'com.victronenergy.battery.';
const CVL = '/Info/MaxChargeVoltage';

export interface SeenService {
  readonly name: string;
  owner: string;
  /** Read once, at scan time, as DbusMonitor does. */
  readonly instance: number | null;
  /** null = invalid. Only paths GetItems listed: a path missing then stays absent. */
  readonly values: Map<string, unknown>;
  /** D-Bus signature each value last arrived with. */
  readonly types: Map<string, string>;
  itemsChanged: number;
  propertiesChanged: number;
  /** Paths of the last ItemsChanged batch. */
  lastBatch: string[];
}

/** A plain value from a BusItem variant; invalid (empty array) → null. */
function plain(variant: unknown): unknown {
  if (!(variant instanceof Variant)) return undefined;
  const v: unknown = variant.value;
  if (Array.isArray(v) && v.length === 0) return null;
  return typeof v === 'bigint' ? Number(v) : v;
}

/** How DVCC steers chargers (see `SystemCalcEmulation.dvccTick`). */
export interface DvccSetup {
  /** `com.victronenergy.solarcharger.*` services DVCC writes to. */
  readonly solarChargers: readonly string[];
  /** The `com.victronenergy.vebus.*` service (the Multi). */
  readonly multi?: string;
  /** ESS "feed-in excess DC-coupled PV": solar chargers are not held to CCL, only to CVL. */
  feedInExcessPv: boolean;
  /** Amps the solar chargers produce now (the sun), which DVCC subtracts from the Multi's share. */
  solarProduction: number;
}

/** What a solar charger may deliver when DVCC does not limit it. */
export const SOLAR_MAXIMUM = 100;

/**
 * What Victron's systemcalc does with battery services (docs/venus.md#battery-monitor-and-bms, docs/venus.md#the-test-double):
 * discovery by NameOwnerChanged / ListNames, GetItems at once, both change signals, the
 * connected filter, battery-monitor and BMS auto-selection, the multiple-BMS condition — and,
 * once `dvcc` is set, how DVCC writes the BMS's limits to the chargers (docs/venus.md#what-dvcc-does-with-the-limits, docs/venus.md#stale-data).
 */
export class SystemCalcEmulation extends EventEmitter {
  readonly services = new Map<string, SeenService>();
  dvcc: DvccSetup | undefined;
  /** A BMS was in use since DVCC started: when it goes, chargers are left to time out. */
  private bmsSeen = false;
  private bus: MessageBus | undefined;
  private closed = false;

  static async start(address: string): Promise<SystemCalcEmulation> {
    const emulation = new SystemCalcEmulation();
    await emulation.connect(address);
    return emulation;
  }

  async connect(address: string): Promise<void> {
    this.closed = false;
    const bus = sessionBus({ busAddress: address });
    (bus as NodeJS.EventEmitter).on('error', () => undefined);
    this.bus = bus;
    bus.on('message', (msg: Message) => {
      this.onMessage(msg);
    });
    await this.dbus('AddMatch', "type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged'");
    await this.dbus('AddMatch', "type='signal',interface='com.victronenergy.BusItem'");
    const names = (await this.dbus('ListNames')) as string[];
    await Promise.all(
      names
        .filter((n) => n.startsWith(BATTERY))
        .map(async (n) => {
          const owner = (await this.dbus('GetNameOwner', n)) as string;
          await this.scan(n, owner);
        }),
    );
  }

  stop(): void {
    this.closed = true;
    this.bus?.disconnect();
    this.bus = undefined;
    this.services.clear();
  }

  value(service: string, path: string): unknown {
    return this.services.get(service)?.values.get(path);
  }

  /** `/Connected` = 1 with a valid ProductName and Mgmt/Connection. */
  connected(s: SeenService): boolean {
    return (
      s.values.get('/Connected') === 1 &&
      typeof s.values.get('/ProductName') === 'string' &&
      typeof s.values.get('/Mgmt/Connection') === 'string'
    );
  }

  batteryMonitor(): string | null {
    const key = (s: SeenService): [number, number, number] => [
      s.values.has(CVL) ? 0 : 1,
      s.name.startsWith(`${BATTERY}lynxparallel`) ? 0 : 1,
      s.instance ?? Infinity,
    ];
    const candidates = [...this.services.values()]
      .filter((s) => this.connected(s))
      .sort((a, b) => {
        const [ka, kb] = [key(a), key(b)];
        return ka[0] - kb[0] || ka[1] - kb[1] || ka[2] - kb[2];
      });
    return candidates[0]?.name ?? null;
  }

  bmsCandidates(): SeenService[] {
    return [...this.services.values()].filter((s) => typeof s.values.get(CVL) === 'number');
  }

  bms(): string | null {
    const candidates = this.bmsCandidates();
    const monitor = this.batteryMonitor();
    if (candidates.some((s) => s.name === monitor)) return monitor;
    const lynx = candidates.find((s) => s.name.startsWith(`${BATTERY}lynxparallel`));
    if (lynx) return lynx.name;
    return candidates.sort((a, b) => (a.instance ?? Infinity) - (b.instance ?? Infinity))[0]?.name ?? null;
  }

  multipleBms(): boolean {
    return this.bmsCandidates().length > 1;
  }

  /**
   * One DVCC write cycle (systemcalc does one every 3 s), from what this emulation has seen of the
   * BMS, as dvcc.py does it: while a BMS is selected (valid CVL), solar chargers get CVL and CCL
   * (with feed-in of excess DC-coupled PV, not CCL: their own maximum), the Multi gets CVL, CCL less
   * what the solar chargers may deliver, DCL and BatteryLowVoltage. When the BMS it had is gone (or
   * its CVL invalid) it writes nothing to the solar chargers — they stop on their own timeout — and
   * leaves the Multi with what it wrote last. It does not read /Io/AllowTo*.
   */
  async dvccTick(): Promise<void> {
    const setup = this.dvcc;
    if (!setup) throw new Error('DVCC is not set up');
    const bms = this.bms();
    if (!bms) return;
    this.bmsSeen = true;
    const value = (path: string): number | null => {
      const v = this.value(bms, path);
      return typeof v === 'number' ? v : null;
    };
    const cvl = value(CVL);
    const ccl = value('/Info/MaxChargeCurrent');
    const dcl = value('/Info/MaxDischargeCurrent');
    const low = value('/Info/BatteryLowVoltage');
    if (cvl === null) return;
    const solarLimit = setup.feedInExcessPv ? SOLAR_MAXIMUM : (ccl ?? SOLAR_MAXIMUM);
    for (const charger of setup.solarChargers) {
      await this.setValue(charger, '/Link/ChargeVoltage', cvl);
      await this.setValue(charger, '/Link/ChargeCurrent', solarLimit);
    }
    if (setup.multi) {
      // Solar has priority: the Multi may charge with what CCL leaves after what the sun gives now.
      const solar = Math.min(setup.solarProduction, setup.feedInExcessPv ? Infinity : (ccl ?? 0));
      await this.setValue(setup.multi, '/BatteryOperationalLimits/MaxChargeVoltage', cvl);
      if (ccl !== null)
        await this.setValue(setup.multi, '/BatteryOperationalLimits/MaxChargeCurrent', Math.max(0, ccl - solar));
      if (dcl !== null) await this.setValue(setup.multi, '/BatteryOperationalLimits/MaxDischargeCurrent', dcl);
      if (low !== null) await this.setValue(setup.multi, '/BatteryOperationalLimits/BatteryLowVoltage', low);
    }
  }

  /** Whether DVCC had a BMS and lost it (it is then silent towards the solar chargers). */
  get bmsLost(): boolean {
    return this.bmsSeen && this.bms() === null;
  }

  /**
   * Resolves once every change `service` sent before now has been seen: a call's reply comes after
   * the signals the service sent before it (one connection, in order).
   */
  async sync(service: string): Promise<void> {
    await this.bus?.call(
      new Message({
        destination: service,
        path: '/Connected',
        interface: 'com.victronenergy.BusItem',
        member: 'GetValue',
      }),
    );
  }

  private async setValue(service: string, path: string, value: number): Promise<void> {
    const bus = this.bus;
    if (!bus) return;
    const reply = await bus.call(
      new Message({
        destination: service,
        path,
        interface: 'com.victronenergy.BusItem',
        member: 'SetValue',
        signature: 'v',
        body: [new Variant('d', value)],
      }),
    );
    if (reply?.body[0] !== 0)
      throw new Error(`SetValue ${service} ${path} = ${String(value)} answered ${String(reply?.body[0])}`);
  }

  /** Resolves when `predicate` holds after some update; rejects with `what` after `ms`. */
  waitFor(what: string, predicate: () => boolean, ms = 10_000): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.off('update', check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.off('update', check);
        reject(new Error(`timed out waiting for ${what}`));
      }, ms);
      this.on('update', check);
    });
  }

  private async dbus(member: string, arg?: string): Promise<unknown> {
    const bus = this.bus;
    if (!bus) throw new Error('not connected');
    const reply = await bus.call(
      new Message({
        destination: 'org.freedesktop.DBus',
        path: '/org/freedesktop/DBus',
        interface: 'org.freedesktop.DBus',
        member,
        ...(arg !== undefined ? { signature: 's', body: [arg] } : {}),
      }),
    );
    return reply?.body[0];
  }

  private async scan(name: string, owner: string): Promise<void> {
    const bus = this.bus;
    if (!bus) return;
    const reply = await bus.call(
      new Message({ destination: name, path: '/', interface: 'com.victronenergy.BusItem', member: 'GetItems' }),
    );
    const items = (reply?.body[0] ?? {}) as Record<string, { Value: Variant }>;
    const values = new Map<string, unknown>();
    const types = new Map<string, string>();
    for (const [path, item] of Object.entries(items)) {
      values.set(path, plain(item.Value));
      types.set(path, item.Value.signature);
    }
    const instance = values.get('/DeviceInstance');
    // DbusMonitor ignores services without a DeviceInstance.
    if (typeof instance !== 'number') return;
    this.services.set(name, {
      name,
      owner,
      instance,
      values,
      types,
      itemsChanged: 0,
      propertiesChanged: 0,
      lastBatch: [],
    });
    this.emit('update');
  }

  private byOwner(owner: string | undefined): SeenService | undefined {
    return [...this.services.values()].find((s) => s.owner === owner);
  }

  private onMessage(msg: Message): void {
    if (this.closed || msg.type !== MessageType.SIGNAL) return;
    if (msg.member === 'NameOwnerChanged') {
      const [name, , newOwner] = msg.body as [string, string, string];
      if (!name.startsWith(BATTERY)) return;
      this.services.delete(name);
      this.emit('update');
      if (newOwner) void this.scan(name, newOwner).catch(() => undefined);
      return;
    }
    const service = this.byOwner(msg.sender);
    if (!service) return;
    const apply = (path: string, item: { Value?: Variant }): void => {
      // Only paths seen at scan time are tracked.
      if (!service.values.has(path) || !item.Value) return;
      service.values.set(path, plain(item.Value));
      service.types.set(path, item.Value.signature);
    };
    if (msg.member === 'ItemsChanged' && msg.path === '/') {
      service.itemsChanged++;
      const batch = Object.entries(msg.body[0] as Record<string, { Value?: Variant }>);
      service.lastBatch = batch.map(([path]) => path);
      for (const [path, item] of batch) apply(path, item);
    } else if (msg.member === 'PropertiesChanged' && msg.path) {
      service.propertiesChanged++;
      apply(msg.path, msg.body[0] as { Value?: Variant });
    } else {
      return;
    }
    this.emit('update');
  }
}
