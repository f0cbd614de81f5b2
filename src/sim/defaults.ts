import type { Fields } from '../protocol';

/**
 * Factory parameters of the simulated PACE pack, in the codec's SI shapes (the values of the
 * Jakiper captures where there is one). Discharge over-current reads back negative, as real packs do.
 */
export function defaultParameters(): Record<string, Fields> {
  return {
    cellOverVoltage: { enabled: true, alarm: 3.6, protect: 3.7, release: 3.38, delay: 1 },
    cellUnderVoltage: { enabled: true, alarm: 2.8, protect: 2.5, release: 2.9, delay: 1 },
    packOverVoltage: { enabled: true, alarm: 57.6, protect: 59.2, release: 54, delay: 1 },
    packUnderVoltage: { enabled: true, alarm: 44.8, protect: 40, release: 46.4, delay: 1 },
    chargeOverCurrent: { enabled: true, alarm: 104, protect: 110, delay: 1 },
    dischargeOverCurrent1: { enabled: true, alarm: -105, protect: -110, delay: 1 },
    cellHighTemperature: {
      enabled: true,
      chargeAlarm: 50,
      chargeProtect: 55,
      chargeRelease: 50,
      dischargeAlarm: 55,
      dischargeProtect: 60,
      dischargeRelease: 55,
    },
    cellLowTemperature: {
      enabled: true,
      chargeAlarm: 0,
      chargeProtect: -5,
      chargeRelease: 0,
      dischargeAlarm: -15,
      dischargeProtect: -20,
      dischargeRelease: -15,
    },
    mosHighTemperature: { enabled: true, alarm: 90, protect: 110, release: 85 },
    overCurrent2: { dischargeProtect: 150, dischargeDelay: 0.1, chargeProtect: 150, chargeDelay: 0.1 },
    shortCircuit: { delay: 0.0003 },
    ambientTemperature: {
      enabled: true,
      lowAlarm: -20,
      lowProtect: -25,
      lowRelease: -20,
      highAlarm: 60,
      highProtect: 65,
      highRelease: 60,
    },
    sleep: { cellVoltage: 3.1, delay: 300 },
    fullCharge: { fullChargeVoltage: 56, fullChargeCurrent: 2, lowSocAlarm: 5 },
    balancing: { startVoltage: 3.4, deltaVoltage: 0.03 },
    limiterCurrent: { current: 100 },
  };
}
