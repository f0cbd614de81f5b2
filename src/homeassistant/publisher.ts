import type { BankState, PackSummary } from '../bank/aggregate';
import { codeText, isStatusCode, type AlarmLevel } from '../bank/codes';
import {
  BANK_ENTITIES,
  CONTROL_ENTITIES,
  PACK_ENTITIES,
  cellEntities,
  packHas,
  stateOf,
  type BankSource,
  type ControlSource,
  type EntityDef,
  type StateValue,
} from './entities';
import { EnergyCounter, energyFrom, type EnergyTotals } from './energy';

/** A message for Node-RED's `mqtt out` node. An empty retained payload deletes a retained topic. */
export interface MqttMessage {
  readonly topic: string;
  readonly payload: string;
  readonly retain: boolean;
}

export interface PublisherOptions {
  /** Home Assistant's discovery prefix. */
  readonly prefix: string;
  /** Root of this package's state and availability topics. */
  readonly base: string;
  /** The bank's id in topics and identifiers; else the master pack's serial; else `fallbackId`. */
  readonly bankId?: string;
  readonly fallbackId: string;
  /** The bank device's name in Home Assistant (packs are "<name> pack N"). */
  readonly bankName: string;
  readonly manufacturer?: string;
  /** Announce every cell's voltage and balancing (2 entities per cell). */
  readonly cells: boolean;
  /** A device's state goes out at most this often, and only when a value changed at display precision. */
  readonly intervalMs: number;
  /** No data for this long: the bank and its packs are announced offline. */
  readonly staleAfterMs: number;
  /**
   * The MQTT connection's own availability: the broker config's birth (`online`), close and last
   * will (`offline`) messages, retained. Entities need it online too, so a Node-RED that stopped
   * or lost the broker shows unavailable at once. This node never publishes there itself.
   */
  readonly bridgeTopic?: string;
  /** Updates to wait for pack serials before naming devices without them. */
  readonly identityWaitUpdates?: number;
}

/** What a publisher keeps across restarts. */
export interface PublisherMemory {
  readonly bankId: string | null;
  readonly energy: EnergyTotals;
  /** Retained topics this node published (configs, availability): cleared when no longer wanted. */
  readonly retained: readonly string[];
}

export function memoryFrom(value: unknown): PublisherMemory {
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  return {
    bankId: typeof v.bankId === 'string' && v.bankId ? v.bankId : null,
    energy: energyFrom(v.energy),
    retained: Array.isArray(v.retained)
      ? v.retained.filter((t): t is string => typeof t === 'string' && t.length > 0)
      : [],
  };
}

/** Home Assistant allows `[a-zA-Z0-9_-]` in discovery ids; serials come from the packs. */
export const idPart = (text: string): string => text.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);

/** A topic prefix a user typed: no wildcards, no empty levels at the ends. */
export function topicRootError(topic: string): string | null {
  if (!topic) return 'is empty';
  if (/[+#]/.test(topic) || topic.includes('\u0000')) return 'must not contain + or #';
  if (topic.startsWith('/') || topic.endsWith('/')) return 'must not start or end with /';
  return null;
}

interface Device<S> {
  readonly id: string;
  readonly topic: string;
  readonly info: Record<string, unknown>;
  readonly entities: readonly EntityDef<S>[];
  /** Availability topics every entity of the device depends on (all must say online). */
  readonly availability: readonly string[];
}

interface Sent {
  payload: string;
  at: number;
}

const KEEPALIVE_INTERVALS = 3;

/**
 * The bank and its packs as Home Assistant MQTT devices: bank readings in, messages for an
 * `mqtt out` node out. Pure: time comes with each call; no client, no files (see `memory()`).
 *
 * - Discovery configs are retained and re-sent only when they change; configs this node sent
 *   before (this run or, from the memory, the last) and no longer wants are deleted — a pack that
 *   left the bank or a renamed bank leaves no entities behind.
 * - States are compact JSON per device, not retained, sent when a value changed at its display
 *   precision (at most once per `intervalMs`) and re-sent unchanged every 3 intervals so
 *   `expire_after` (9 intervals, at least the stale limit plus 3 intervals) only fires when data stop.
 * - Availability (retained): the bank (some pack fresh) and each pack (answering, data fresh). Every
 *   entity needs its own device, the bank and (when set) the bridge topic online (`availability_mode: all`).
 */
export class HaPublisher {
  private bankId: string | null;
  private readonly energy: EnergyCounter;
  /** Retained topics this publisher owns, with what it last sent there. */
  private readonly retained = new Map<string, string>();
  /** Retained topics from the last run not yet confirmed: deleted at the first announcement. */
  private inherited: Set<string>;
  private readonly states = new Map<string, Sent>();
  private readonly packEntities = new Map<string, Set<string>>();
  private packCells = new Map<string, number>();
  private control: ControlSource | null = null;
  private bank: BankState | null = null;
  private updates = 0;
  private lastUpdateAt: number | null = null;
  private stale = false;
  /** The bank id of the last run, used when no serial can be read this time. */
  private readonly remembered: string | null;

  constructor(
    private readonly options: PublisherOptions,
    memory: PublisherMemory = memoryFrom(null),
  ) {
    this.bankId = options.bankId ? idPart(options.bankId) : null;
    this.energy = new EnergyCounter(memory.energy, Math.max(options.staleAfterMs, 60_000));
    this.inherited = new Set(memory.retained);
    this.remembered = memory.bankId;
  }

  /** How long Home Assistant keeps a value without a new message before it shows unavailable. */
  get expireAfterS(): number {
    return Math.ceil(
      Math.max(
        3 * KEEPALIVE_INTERVALS * this.options.intervalMs,
        this.options.staleAfterMs + KEEPALIVE_INTERVALS * this.options.intervalMs,
      ) / 1000,
    );
  }

  get totals(): EnergyTotals {
    return this.energy.totals;
  }

  /** The bank id in use (null until the packs' serials were read or waited for). */
  get id(): string | null {
    return this.bankId;
  }

  memory(): PublisherMemory {
    return {
      bankId: this.bankId,
      energy: this.energy.totals,
      retained: [...new Set([...this.retained.keys(), ...this.inherited])],
    };
  }

  /** A new bank state (from bms-parallel, or aggregated from a link's cycle). */
  update(bank: BankState, now: number): MqttMessage[] {
    this.updates++;
    this.energy.add(bank.power, now);
    this.bank = bank;
    this.lastUpdateAt = now;
    this.stale = false;
    if (!this.bankId && !this.resolveBankId(bank)) return [];
    return this.publish(now, false);
  }

  /** A bms-venus report: its stage and the limits the GX receives join the bank device. */
  updateControl(report: ControlSource, now: number): MqttMessage[] {
    this.control = report;
    return this.bank && this.bankId ? this.publish(now, false) : [];
  }

  /** Called once a second or so: data that stopped coming make the bank and its packs unavailable. */
  tick(now: number): MqttMessage[] {
    if (
      this.stale ||
      this.lastUpdateAt === null ||
      now - this.lastUpdateAt <= this.options.staleAfterMs ||
      !this.bank ||
      !this.bankId
    )
      return [];
    this.stale = true;
    const out: MqttMessage[] = [];
    for (const device of this.devices(this.bank)) {
      this.setRetained(out, ownAvailability(device), 'offline');
    }
    return out;
  }

  /** Everything again (Home Assistant or the broker came back): configs, availability, fresh states. */
  announce(now: number): MqttMessage[] {
    if (!this.bank || !this.bankId) return [];
    return this.publish(now, true);
  }

  /**
   * The node stops. Removed: every retained topic it owns is deleted (the devices go from Home
   * Assistant). Otherwise (restart, redeploy): its devices are marked offline until it is back.
   */
  stop(removed: boolean): MqttMessage[] {
    const out: MqttMessage[] = [];
    if (removed) {
      for (const topic of [...this.retained.keys(), ...this.inherited]) out.push({ topic, payload: '', retain: true });
      this.retained.clear();
      this.inherited.clear();
      return out;
    }
    if (this.bank && this.bankId) {
      for (const device of this.devices(this.bank)) {
        this.setRetained(out, ownAvailability(device), 'offline');
      }
    }
    return out;
  }

  private resolveBankId(bank: BankState): boolean {
    const master = [...bank.packs].sort((a, b) => a.pack - b.pack).find((p) => serialOf(p));
    const serial = master ? serialOf(master) : null;
    const waited = this.updates >= (this.options.identityWaitUpdates ?? 3);
    const identitiesTried = bank.packs.every((p) => !p.online || p.identity !== null);
    if (!serial && !waited && !identitiesTried) return false;
    this.bankId = idPart(serial ?? this.remembered ?? this.options.fallbackId);
    return true;
  }

  private topicOf(...parts: string[]): string {
    return [this.options.base, this.bankId ?? '', ...parts].join('/');
  }

  private devices(bank: BankState): Device<unknown>[] {
    const bankId = this.bankId ?? '';
    const bankIdent = `lfpbms_bank_${bankId}`;
    const bankTopic = this.topicOf('bank');
    const master = [...bank.packs].sort((a, b) => a.pack - b.pack).find((p) => serialOf(p));
    const bankInfo = compact({
      identifiers: [bankIdent],
      name: this.options.bankName,
      manufacturer: this.options.manufacturer || undefined,
      model: 'LiFePO4 battery bank',
      serial_number: master ? serialOf(master) : undefined,
    });
    const bridge = this.options.bridgeTopic ? [this.options.bridgeTopic] : [];
    this.serialOwners = new Map();
    for (const p of [...bank.packs].sort((a, b) => a.pack - b.pack)) {
      const s = serialOf(p);
      if (s && !this.serialOwners.has(s)) this.serialOwners.set(s, p.pack);
    }
    const devices: Device<unknown>[] = [
      {
        id: bankIdent,
        topic: bankTopic,
        info: bankInfo,
        entities: BANK_ENTITIES as readonly EntityDef<unknown>[],
        availability: [...bridge, `${bankTopic}/availability`],
      },
    ];
    for (const pack of bank.packs) {
      // A pack never read has nothing to show (and no serial to name it by).
      if (!pack.analog && !this.packEntities.has(this.packKey(pack))) continue;
      const key = this.packKey(pack);
      const nn = String(pack.pack).padStart(2, '0');
      const topic = this.topicOf(`pack${nn}`);
      const serial = serialOf(pack);
      const info = compact({
        identifiers: [key],
        name: `${this.options.bankName} pack ${String(pack.pack)}`,
        manufacturer: this.options.manufacturer || undefined,
        model: 'LiFePO4 pack',
        serial_number: serial ?? undefined,
        sw_version: pack.identity?.firmware || undefined,
        via_device: bankIdent,
      });
      devices.push({
        id: key,
        topic,
        info,
        entities: this.entitiesOf(key, pack) as readonly EntityDef<unknown>[],
        availability: [...bridge, `${bankTopic}/availability`, `${topic}/availability`],
      });
    }
    return devices;
  }

  /**
   * A serial more than one pack reports is not theirs (a link that asked the master for every
   * pack): the lowest address keeps it, the others are named by bank and address.
   */
  private serialOwners = new Map<string, number>();

  private packKey(pack: PackSummary): string {
    const reported = serialOf(pack);
    const serial = reported && this.serialOwners.get(reported) === pack.pack ? reported : null;
    return `lfpbms_pack_${serial ? idPart(serial) : `${this.bankId ?? ''}_${String(pack.pack)}`}`;
  }

  /** A pack's entities: once announced, kept while the pack is in the bank, even when it goes silent. */
  private entitiesOf(key: string, pack: PackSummary): EntityDef<PackSummary>[] {
    const have = this.packEntities.get(key) ?? new Set<string>();
    this.packEntities.set(key, have);
    if (pack.analog) for (const e of PACK_ENTITIES) if (packHas(e, pack)) have.add(e.key);
    const cells = Math.max(
      this.packCells.get(key) ?? 0,
      this.options.cells ? (pack.analog?.cellVoltages.length ?? 0) : 0,
    );
    this.packCells.set(key, cells);
    return [...PACK_ENTITIES.filter((e) => have.has(e.key)), ...cellEntities(cells)];
  }

  private config(
    device: Device<unknown>,
    entity: EntityDef<unknown>,
    stateTopic: string,
    withBankAvailability: readonly string[],
  ): { topic: string; payload: string } {
    const uniqueId = `${device.id}_${entity.key}`;
    const payload = compact({
      name: entity.name,
      unique_id: uniqueId,
      state_topic: stateTopic,
      value_template: `{{ value_json.${entity.key} }}`,
      device_class: entity.deviceClass,
      state_class: entity.stateClass,
      unit_of_measurement: entity.unit,
      suggested_display_precision: entity.component === 'sensor' && entity.unit ? entity.precision : undefined,
      options: entity.options,
      entity_category: entity.category,
      icon: entity.icon,
      json_attributes_topic: entity.attributes ? `${device.topic}/${entity.attributes}` : undefined,
      availability: withBankAvailability.map((topic) => ({ topic })),
      availability_mode: 'all',
      expire_after: this.expireAfterS,
      device: device.info,
    });
    return {
      topic: `${this.options.prefix}/${entity.component}/${device.id}/${entity.key}/config`,
      payload: JSON.stringify(payload),
    };
  }

  private publish(now: number, force: boolean): MqttMessage[] {
    const bank = this.bank;
    if (!bank) return [];
    const out: MqttMessage[] = [];
    const devices = this.devices(bank);
    const configs: { topic: string; payload: string }[] = [];
    for (const device of devices) {
      for (const entity of device.entities)
        configs.push(this.config(device, entity, `${device.topic}/state`, device.availability));
      if (device === devices[0] && this.control) {
        for (const entity of CONTROL_ENTITIES)
          configs.push(
            this.config(device, entity as EntityDef<unknown>, `${device.topic}/control`, device.availability),
          );
      }
    }
    const wanted = new Set<string>([...configs.map((c) => c.topic), ...devices.map(ownAvailability)]);

    // Configs first: Home Assistant drops states for entities it does not know yet.
    for (const c of configs) this.setRetained(out, c.topic, c.payload, force);
    // What is no longer wanted goes: packs that left, a bank renamed, entities of the last run.
    for (const topic of new Set([...this.retained.keys(), ...this.inherited])) {
      if (wanted.has(topic)) continue;
      out.push({ topic, payload: '', retain: true });
      this.retained.delete(topic);
    }
    this.inherited.clear();

    const source: BankSource = {
      bank,
      chargedKwh: this.energy.totals.chargedWh / 1000,
      dischargedKwh: this.energy.totals.dischargedWh / 1000,
    };
    for (const device of devices) {
      const bankDevice = device === devices[0];
      const summary = bankDevice ? null : (bank.packs.find((p) => this.packKey(p) === device.id) ?? null);
      const online = bankDevice ? bank.packsOnline > 0 : !!summary && summary.online && !summary.stale;
      this.setRetained(out, ownAvailability(device), online ? 'online' : 'offline', force);
      // Old values are never sent as new: a silent pack's entities wait, unavailable.
      if (!online) continue;
      const values = bankDevice
        ? valuesOf(device.entities as readonly EntityDef<BankSource>[], source)
        : valuesOf(device.entities as readonly EntityDef<PackSummary>[], summary as PackSummary);
      this.sendState(out, `${device.topic}/state`, JSON.stringify(values), now, force);
      if (bankDevice) {
        this.sendState(out, `${device.topic}/alarms`, JSON.stringify(bankAlarms(bank)), now, force);
        if (this.control)
          this.sendState(
            out,
            `${device.topic}/control`,
            JSON.stringify(valuesOf(CONTROL_ENTITIES, this.control)),
            now,
            force,
          );
      } else if (summary) {
        for (const [topic, level] of [
          ['warnings', 'warning'],
          ['protections', 'protection'],
          ['faults', 'fault'],
        ] as const) {
          this.sendState(out, `${device.topic}/${topic}`, JSON.stringify(packCodes(summary, level)), now, force);
        }
      }
    }
    return out;
  }

  private setRetained(out: MqttMessage[], topic: string, payload: string, force = false): void {
    if (!force && this.retained.get(topic) === payload) return;
    this.retained.set(topic, payload);
    this.inherited.delete(topic);
    out.push({ topic, payload, retain: true });
  }

  private sendState(out: MqttMessage[], topic: string, payload: string, now: number, force: boolean): void {
    const last = this.states.get(topic);
    const due =
      !last ||
      force ||
      now - last.at >= KEEPALIVE_INTERVALS * this.options.intervalMs ||
      (payload !== last.payload && now - last.at >= this.options.intervalMs);
    if (!due) return;
    this.states.set(topic, { payload, at: now });
    out.push({ topic, payload, retain: false });
  }
}

/** The device's own availability topic (the last of those its entities depend on). */
const ownAvailability = (device: Device<unknown>): string => device.availability[device.availability.length - 1] ?? '';

function serialOf(pack: PackSummary): string | null {
  const serial = pack.identity?.serial?.trim() || pack.identity?.packSerial?.trim();
  return serial ? serial : null;
}

function valuesOf<S>(entities: readonly EntityDef<S>[], source: S): Record<string, StateValue> {
  const values: Record<string, StateValue> = {};
  for (const e of entities) values[e.key] = stateOf(e, source);
  return values;
}

/** A JSON object without its undefined fields. */
function compact(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v;
  return out;
}

function bankAlarms(bank: BankState): {
  level: string;
  alarms: { code: string; level: string; text: string; packs: readonly number[] }[];
} {
  return {
    level: bank.alarmLevel,
    alarms: bank.alarms.map((a) => ({ code: a.code, level: a.level, text: a.text, packs: a.packs })),
  };
}

function packCodes(pack: PackSummary, level: AlarmLevel): { codes: string[]; texts: string[] } {
  const group = level === 'warning' ? 'alarms' : level === 'protection' ? 'protections' : 'faults';
  const codes = (pack.alarms?.[group] ?? []).filter((c) => !isStatusCode(level, c));
  return { codes, texts: codes.map((c) => codeText(level, c)) };
}
