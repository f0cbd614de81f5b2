import { EventEmitter } from 'node:events';
import type { CanFrame } from '../../src/protocol/pylon-can';

/** What a Pylon inverter reads from the battery's core frames (PY12 layout, as a Deye does). */
export interface InverterReading {
  cvl?: number;
  ccl?: number;
  dcl?: number;
  soc?: number;
  soh?: number;
  voltage?: number;
  current?: number;
  temperature?: number;
  protection?: [number, number];
  warning?: [number, number];
  modules?: number;
  chargeEnable?: boolean;
  dischargeEnable?: boolean;
  forceCharge1?: boolean;
  manufacturer?: string;
}

/** Reads frames the way an inverter of the Pylon V1.2 family does: little-endian, the reference's scales. */
export function readAsInverter(frames: readonly CanFrame[], voltageScale = 0.01): InverterReading {
  const r: InverterReading = {};
  for (const f of frames) {
    const v = new DataView(f.data.buffer, f.data.byteOffset, f.data.byteLength);
    switch (f.id) {
      case 0x351:
        r.cvl = v.getUint16(0, true) / 10;
        r.ccl = v.getInt16(2, true) / 10;
        r.dcl = Math.abs(v.getInt16(4, true)) / 10;
        break;
      case 0x355:
        r.soc = v.getUint16(0, true);
        r.soh = v.getUint16(2, true);
        break;
      case 0x356:
        r.voltage = Math.round(v.getInt16(0, true) * voltageScale * 100) / 100;
        r.current = v.getInt16(2, true) / 10;
        r.temperature = v.getInt16(4, true) / 10;
        break;
      case 0x359:
        r.protection = [f.data[0] ?? 0, f.data[1] ?? 0];
        r.warning = [f.data[2] ?? 0, f.data[3] ?? 0];
        r.modules = f.data[4];
        break;
      case 0x35c:
        r.chargeEnable = ((f.data[0] ?? 0) & 0x80) !== 0;
        r.dischargeEnable = ((f.data[0] ?? 0) & 0x40) !== 0;
        r.forceCharge1 = ((f.data[0] ?? 0) & 0x20) !== 0;
        break;
      case 0x35e:
        r.manufacturer = Buffer.from(f.data).toString('latin1');
        break;
    }
  }
  return r;
}

/**
 * The CAN side as the sender sees it, scripted: records every frame with the (fake) time it went
 * out, can be closed and opened, and delivers what the inverter "sends".
 */
export class RecordingCanPort extends EventEmitter {
  isOpen = true;
  readonly sent: { at: number; frame: CanFrame }[] = [];

  send(frame: CanFrame): Promise<boolean> {
    if (!this.isOpen) return Promise.resolve(false);
    this.sent.push({ at: Date.now(), frame });
    return Promise.resolve(true);
  }

  /** The inverter sends `id` with `data`. */
  inverter(id: number, data: readonly number[] = [0, 0, 0, 0, 0, 0, 0, 0]): void {
    this.emit('frame', { id, data: Uint8Array.from(data) });
  }

  /** Frames sent since `from` (ms, fake time). */
  since(from: number): CanFrame[] {
    return this.sent.filter((s) => s.at >= from).map((s) => s.frame);
  }

  /** Start times of the sets (a 0x351 opens each), ms. */
  setStarts(): number[] {
    return this.sent.filter((s) => s.frame.id === 0x351).map((s) => s.at);
  }
}
