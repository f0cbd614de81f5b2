import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import {
  ChargeController,
  DEFAULT_CHARGE_SETTINGS,
  FreshnessGuard,
  aggregateBank,
  agedInputs,
  type BankState,
  type ChargeDecision,
  type ChargeSettings,
  type Freshness,
  type HeldInput,
  type PackInput,
} from '../bank';
import { DEFAULT_ALARM_THRESHOLDS, type AlarmThresholds } from '../bank/alarm-levels';
import { bankItems, bankSpecs, packItems, packSpecs, type ServiceMeta } from './battery-items';
import { EMPTY_HISTORY, addSample, type BankHistory } from './history';
import { VenusService, type ServiceState } from './service';
import { log } from '../log';
import { loadMemory, loadRememberedId, saveMemory, saveRememberedId } from './store';
import { errorMessage } from '../errors';

export interface BridgeOptions {
  readonly busAddress?: string;
  /** A bank id the user chose; otherwise the master pack's serial, otherwise `fallbackId`. */
  readonly bankId?: string;
  readonly fallbackId: string;
  readonly preferredInstance?: number;
  /** One extra service per pack (off by default): they never carry `/Info/*`. */
  readonly packServices?: boolean;
  readonly productName?: string;
  /** How the packs are reached, for `/Mgmt/Connection`. */
  readonly connection: string;
  readonly processName?: string;
  readonly processVersion?: string;
  readonly pollIntervalMs: number;
  readonly lostAfterMs?: number;
  /** At stage 2, also leave the bus name (and come back when the data does). */
  readonly releaseOnLoss?: boolean;
  readonly charge?: Partial<ChargeSettings>;
  readonly thresholds?: AlarmThresholds;
  readonly expectedPacks?: readonly number[];
  /** Directory for the bank's memory (custom name, history, charge mode); none: nothing kept. */
  readonly stateDir?: string;
  /** Inputs to wait for a pack serial before falling back to `fallbackId`. */
  readonly identityWaitInputs?: number;
  readonly propertiesChanged?: boolean;
  readonly packPublishMs?: number;
  readonly watchdogMs?: number;
  /** A custom name written over D-Bus is saved this long after the first write of a burst (default 5 s). */
  readonly nameSaveDelayMs?: number;
  readonly retryMinMs?: number;
  /** Time source (tests run the watchdog on a fake clock). */
  readonly clock?: () => number;
  /** The watchdog's timers, to go with `clock` (tests give a fake clock's). */
  readonly timers?: BridgeTimers;
}

export interface BridgeTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

// The globals are looked up at each call, not at load: a test's fake timers installed later apply.
const REAL_TIMERS: BridgeTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => {
    clearTimeout(handle as NodeJS.Timeout | undefined);
  },
};

export interface BridgeReport {
  readonly stage: Freshness['stage'];
  /** What the stage means for the GX, in words. */
  readonly stageText: string;
  readonly reason: string;
  /** At stage 2: ms until the service stops being a BMS. */
  readonly bmsLostInMs?: number;
  readonly serviceName: string | null;
  readonly instance: number | null;
  readonly phase: ServiceState['phase'] | 'waiting';
  readonly mode: ChargeDecision['mode'];
  readonly modeText: string;
  readonly published: { readonly cvl: number | null; readonly ccl: number; readonly dcl: number };
  readonly computed: ChargeDecision['computed'];
  readonly chargeLimitation: string;
  readonly dischargeLimitation: string;
  readonly shadow: boolean;
  readonly packsOnline: number;
  readonly packsExpected: number;
  readonly stalePacks: readonly number[];
}

const SAVE_EVERY_MS = 60_000;

const STAGE_TEXT: Readonly<Record<Freshness['stage'], string>> = {
  0: 'all packs fresh',
  1: 'some packs silent: left out of the totals and limits',
  2: 'data doubtful: charging stopped, discharge held',
  3: 'BMS lost: no charge limits published',
};
const NAME_SAVE_DELAY_MS = 5_000;

export function serviceSuffix(id: string): string {
  return `lfpbms_${id.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/** What a bridge tells its node. */
export interface BridgeEvents {
  /** On a stage change and for every fed input: what the GX gets and why. */
  report: [BridgeReport];
  /** A D-Bus service's registration phase, with the service's name. */
  state: [ServiceState, string];
  warning: [string];
  /** Its memory was written to this file. */
  saved: [string];
}

/**
 * The bank on D-Bus: pack readings in, one `com.victronenergy.battery` service (plus optional
 * per-pack services) out, with charge control and the data-age watchdog in between. Runs a
 * watchdog of its own, so a flow that stops feeding it still ends in stage 2: it sleeps while input
 * arrives on time and checks every second (`watchdogMs`) once input is overdue.
 */
export class VenusBridge extends EventEmitter<BridgeEvents> {
  readonly controller: ChargeController;
  readonly guard: FreshnessGuard;
  private readonly inputs = new Map<number, HeldInput>();
  private lastInputAt: number | null = null;
  private inputsSeen = 0;
  private bankService: VenusService | undefined;
  private readonly packServices = new Map<number, VenusService>();
  private lastPackPublish = -Infinity;
  private history: BankHistory = EMPTY_HISTORY;
  private lastSampleAt: number | null = null;
  private customName = '';
  private stateFile: string | undefined;
  private lastSaved = 0;
  private saveTimer: NodeJS.Timeout | undefined;
  private lastStage: Freshness['stage'] | null = null;
  private lastPublishAt = -Infinity;
  private nextChangeAt = -Infinity;
  private lastHadFresh = false;
  private lastReport: BridgeReport | undefined;
  private watchdog: unknown;
  private readonly timers: BridgeTimers;
  /** How often the watchdog checks once input is overdue. */
  private readonly tickMs: number;
  private meta: ServiceMeta | undefined;
  private serviceNameValue: string | null = null;
  private stopped = false;
  private readonly now: () => number;

  constructor(readonly options: BridgeOptions) {
    super();
    this.controller = new ChargeController({ ...DEFAULT_CHARGE_SETTINGS, ...options.charge });
    this.guard = new FreshnessGuard({
      pollIntervalMs: options.pollIntervalMs,
      ...(options.lostAfterMs !== undefined ? { lostAfterMs: options.lostAfterMs } : {}),
    });
    this.now = options.clock ?? Date.now;
    this.tickMs = options.watchdogMs ?? 1000;
    this.timers = options.timers ?? REAL_TIMERS;
  }

  get service(): VenusService | undefined {
    return this.bankService;
  }

  get serviceName(): string | null {
    return this.serviceNameValue;
  }

  get perPackServices(): ReadonlyMap<number, VenusService> {
    return this.packServices;
  }

  /** Readings of some or all packs, as bms-pack / bms-parallel carry them. */
  feed(packs: readonly PackInput[], at = this.now()): BridgeReport | null {
    if (this.stopped) return null;
    for (const input of packs) this.inputs.set(input.pack, { input, at });
    this.lastInputAt = at;
    this.inputsSeen++;
    const report = this.evaluate(at, 'input');
    this.armWatchdog(at);
    return report;
  }

  /**
   * The watchdog's next check: when something can change without input (a pack turning stale, the
   * BMS-lost time) or when the next input is a tick overdue, whichever comes first; every tick once
   * it is overdue. Until then there is nothing to check, and a wake-up of an idle Node-RED costs a
   * GX more than the check itself (it was five per poll at 1 s).
   */
  private armWatchdog(now: number): void {
    this.timers.clearTimeout(this.watchdog);
    if (this.stopped || this.lastInputAt === null) return;
    const overdueAt = this.lastInputAt + this.options.pollIntervalMs + this.tickMs;
    const delay = Math.max(this.tickMs, Math.min(this.nextChangeAt, overdueAt) - now);
    this.watchdog = this.timers.setTimeout(() => {
      const at = this.now();
      this.evaluate(at, 'watchdog');
      this.armWatchdog(at);
    }, delay);
  }

  /**
   * Re-evaluate now. The watchdog does this every second while input is overdue, but it only publishes
   * when the data stage changes (or once a poll interval, for ramps and ages): building and comparing
   * every item each second would cost a GX more than the data itself.
   */
  evaluate(now: number, trigger: 'input' | 'watchdog' = 'watchdog'): BridgeReport | null {
    if (this.stopped) return null;
    // Between inputs nothing changes before a pack's data turns stale or the BMS-lost time runs
    // out: until then the watchdog has nothing to aggregate.
    const unchanged =
      trigger === 'watchdog' && now < this.nextChangeAt && now - this.lastPublishAt < this.options.pollIntervalMs;
    const nameFollowUp =
      this.options.releaseOnLoss === true &&
      this.bankService !== undefined &&
      this.lastStage !== null &&
      this.lastStage < 3 !== this.bankService.registered;
    if (unchanged && !nameFollowUp && this.lastReport) {
      if (this.lastHadFresh) this.guard.stillFresh(now);
      return this.lastReport;
    }
    const aged = agedInputs(this.inputs.values(), now);
    const bank = aggregateBank(aged, {
      staleAfterMs: this.guard.staleAfterMs,
      ...(this.options.expectedPacks?.length ? { expectedPacks: this.options.expectedPacks } : {}),
    });
    const freshness = this.guard.assess(this.lastInputAt === null ? null : bank, now);
    this.nextChangeAt = this.nextChange(now, freshness);
    this.lastHadFresh = bank.packsOnline > 0;
    // A name to leave or claim again (releaseOnLoss) is followed up every time.
    const nameDue =
      this.options.releaseOnLoss === true &&
      this.bankService !== undefined &&
      freshness.stage < 3 !== this.bankService.registered;
    const quiet =
      trigger === 'watchdog' &&
      !nameDue &&
      freshness.stage === this.lastStage &&
      now - this.lastPublishAt < this.options.pollIntervalMs;
    if (quiet && this.lastReport) return this.lastReport;
    this.lastPublishAt = now;
    if (!this.bankService && !this.startService(bank)) return null;
    const doubtful = freshness.stage >= 2;
    const decision = doubtful
      ? this.controller.hold(now, freshness.reason, freshness.stage === 3)
      : this.controller.step(bank, now);
    // Energy is counted for measured time only: a re-evaluation of the same readings adds nothing.
    if (!doubtful && trigger === 'input') this.recordHistory(bank, decision, now);
    this.publish(bank, decision, freshness, now);
    const report = this.report(bank, decision, freshness);
    this.lastReport = report;
    const stageChanged = freshness.stage !== this.lastStage;
    if (stageChanged)
      log.venus(
        '%s: stage %d (%s), CVL %s V, CCL %d A, DCL %d A',
        this.serviceNameValue ?? '-',
        freshness.stage,
        freshness.reason,
        String(report.published.cvl),
        report.published.ccl,
        report.published.dcl,
      );
    this.lastStage = freshness.stage;
    if (trigger === 'input' || stageChanged) this.emit('report', report);
    if (now - this.lastSaved >= SAVE_EVERY_MS) this.save(now);
    return report;
  }

  /** When the freshness could next change without new input: a fresh pack turning stale, or the BMS-lost time. */
  private nextChange(now: number, freshness: Freshness): number {
    let next = freshness.lostInMs !== undefined ? now + freshness.lostInMs : Infinity;
    for (const { input, at } of this.inputs.values()) {
      if (input.ageMs === null) continue;
      const staleAt = at - input.ageMs + (input.staleAfterMs ?? this.guard.staleAfterMs);
      if (staleAt >= now) next = Math.min(next, staleAt + 1);
    }
    return next;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.timers.clearTimeout(this.watchdog);
    clearTimeout(this.saveTimer);
    this.save(this.now());
    await Promise.all([this.bankService?.stop(), ...[...this.packServices.values()].map((s) => s.stop())]);
  }

  private startService(bank: BankState): boolean {
    const master = bank.packs.find((p) => p.identity?.serial ?? p.identity?.packSerial);
    const serial = master?.identity?.serial ?? master?.identity?.packSerial;
    // The id this node used last time, so a serial read that fails once does not rename the bank.
    const rememberedFile = this.options.stateDir
      ? join(this.options.stateDir, `venus-node-${serviceSuffix(this.options.fallbackId)}.json`)
      : undefined;
    const id = this.options.bankId || serial;
    if (!id && this.inputsSeen < (this.options.identityWaitInputs ?? 3)) return false;
    const remembered = id ? undefined : rememberedFile ? loadRememberedId(rememberedFile) : undefined;
    if (!id && !remembered)
      this.emit(
        'warning',
        'no pack serial: the bank is named after this node; set a bank id to keep its DeviceInstance when the flow is rebuilt',
      );
    const suffix = serviceSuffix(id || remembered || this.options.fallbackId);
    if (rememberedFile && !this.options.bankId) {
      try {
        saveRememberedId(rememberedFile, id || remembered || this.options.fallbackId);
      } catch (err) {
        this.emit('warning', `cannot save ${rememberedFile}: ${errorMessage(err)}`);
      }
    }
    const name = `com.victronenergy.battery.${suffix}`;
    this.serviceNameValue = name;
    if (this.options.stateDir) {
      this.stateFile = join(this.options.stateDir, `venus-${suffix}.json`);
      const memory = loadMemory(this.stateFile);
      this.customName = memory.customName ?? '';
      this.history = memory.history;
      if (memory.chargeMode) this.controller.restore(memory.chargeMode);
    }
    this.meta = {
      processName: this.options.processName ?? 'node-red-contrib-lifepo4-bms',
      processVersion: this.options.processVersion ?? '0',
      connection: this.options.connection,
      productName: this.options.productName ?? 'LiFePO4 battery bank',
      firmware: master?.identity?.firmware ?? null,
      serial: serial ?? null,
      customName: this.customName,
    };
    const packs = bank.packs.map((p) => p.pack);
    const preferred = this.options.preferredInstance ?? 1;
    this.bankService = this.createService(name, suffix, preferred, bankSpecs(packs));
    if (this.options.packServices) {
      for (const pack of packs) {
        const tag = `_p${String(pack).padStart(2, '0')}`;
        this.packServices.set(
          pack,
          this.createService(`${name}${tag}`, `${suffix}${tag}`, preferred + pack, packSpecs()),
        );
      }
    }
    return true;
  }

  private createService(
    serviceName: string,
    uniqueId: string,
    preferredInstance: number,
    specs: ReturnType<typeof packSpecs>,
  ): VenusService {
    const service = new VenusService({
      serviceName,
      uniqueId,
      preferredInstance,
      specs,
      ...(this.options.busAddress ? { busAddress: this.options.busAddress } : {}),
      ...(this.options.propertiesChanged !== undefined ? { propertiesChanged: this.options.propertiesChanged } : {}),
      ...(this.options.retryMinMs !== undefined ? { retryMinMs: this.options.retryMinMs } : {}),
      onWrite: (path, value) => this.onWrite(path, value),
    });
    service.on('state', (state: ServiceState) => {
      this.emit('state', state, serviceName);
    });
    service.on('warning', (text: string) => {
      this.emit('warning', text);
    });
    // Values first, so the tree is complete when the name is claimed.
    service.start();
    return service;
  }

  private onWrite(path: string, value: number | string | null): 0 | 1 | 2 {
    if (path !== '/CustomName' || typeof value !== 'string') return 1;
    if (value.length > 64) return 2;
    this.customName = value;
    if (this.meta) this.meta = { ...this.meta, customName: value };
    for (const s of [this.bankService, ...this.packServices.values()]) s?.tree.set('/CustomName', value);
    this.saveSoon();
    return 0;
  }

  private recordHistory(bank: BankState, decision: ChargeDecision, now: number): void {
    const counted = bank.packs.filter((p) => !p.stale);
    const full =
      decision.reachedFloat || (counted.length > 0 && counted.every((p) => p.alarms?.protections.includes('FULLY')));
    this.history = addSample(
      this.history,
      {
        at: now,
        power: bank.power,
        voltage: bank.voltage?.mean ?? null,
        minCellVoltage: bank.cellVoltage?.min.value ?? null,
        maxCellVoltage: bank.cellVoltage?.max.value ?? null,
        minTemperature: bank.temperature?.min.value ?? null,
        maxTemperature: bank.temperature?.max.value ?? null,
        full,
      },
      this.lastSampleAt,
      this.guard.staleAfterMs,
    );
    this.lastSampleAt = now;
  }

  private publish(bank: BankState, decision: ChargeDecision, freshness: Freshness, now: number): void {
    const meta = this.meta;
    const service = this.bankService;
    if (!meta || !service) return;
    const thresholds = this.options.thresholds ?? DEFAULT_ALARM_THRESHOLDS;
    service.update(bankItems({ bank, decision, freshness, history: this.history, meta, thresholds, now }));
    if (this.options.releaseOnLoss) {
      if (freshness.stage === 3 && service.registered) void service.release();
      else if (freshness.stage < 3 && !service.registered) void service.claim();
    }
    if (
      this.packServices.size &&
      (now - this.lastPackPublish >= (this.options.packPublishMs ?? 5000) || freshness.stage !== this.lastStage)
    ) {
      this.lastPackPublish = now;
      for (const [pack, packService] of this.packServices) {
        const summary = bank.packs.find((p) => p.pack === pack);
        if (!summary) continue;
        const serial = summary.identity?.serial ?? summary.identity?.packSerial ?? null;
        packService.update(
          packItems(
            summary,
            bank,
            {
              ...meta,
              serial,
              firmware: summary.identity?.firmware ?? null,
              productName: `${meta.productName}, pack ${String(pack)}`,
            },
            thresholds,
            freshness.stage,
          ),
        );
      }
    }
  }

  private report(bank: BankState, decision: ChargeDecision, freshness: Freshness): BridgeReport {
    return {
      stage: freshness.stage,
      stageText: STAGE_TEXT[freshness.stage],
      reason: freshness.reason,
      serviceName: this.serviceNameValue,
      instance: this.bankService?.instance ?? null,
      phase: this.bankService?.state.phase ?? 'waiting',
      mode: decision.mode,
      modeText: decision.modeText,
      published: decision.published,
      computed: decision.computed,
      chargeLimitation: decision.chargeLimitation,
      dischargeLimitation: decision.dischargeLimitation,
      shadow: this.controller.settings.shadow,
      packsOnline: freshness.stage >= 2 ? 0 : bank.packsOnline,
      packsExpected: bank.packsExpected,
      stalePacks: freshness.stalePacks,
      ...(freshness.lostInMs !== undefined ? { bmsLostInMs: freshness.lostInMs } : {}),
    };
  }

  /**
   * A name written over D-Bus is kept a few seconds later, once: a GUI or script setting it over and
   * over must not wear the GX's flash with a file write each time.
   */
  private saveSoon(): void {
    this.saveTimer ??= setTimeout(() => {
      this.saveTimer = undefined;
      this.save(this.now());
    }, this.options.nameSaveDelayMs ?? NAME_SAVE_DELAY_MS);
  }

  private save(now: number): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    this.lastSaved = now;
    if (!this.stateFile) return;
    try {
      saveMemory(this.stateFile, {
        customName: this.customName || null,
        history: this.history,
        chargeMode: this.controller.chargeMode,
      });
      this.emit('saved', this.stateFile);
    } catch (err) {
      this.emit('warning', `cannot save ${this.stateFile}: ${errorMessage(err)}`);
    }
  }
}
