/** Who a pack is, as its identity replies say (version, serial; Pylontech manufacturer info). */
export interface PackIdentity {
  readonly firmware?: string;
  readonly serial?: string;
  readonly packSerial?: string;
}

/**
 * What a BMS asks for itself (Pylontech 0x92), currents signed as everywhere in this package:
 * charging positive, discharging negative (or zero).
 */
export interface PackChargeLimits {
  readonly chargeVoltage: number;
  readonly chargeCurrent: number;
  readonly dischargeCurrent: number;
  readonly chargeEnabled: boolean;
  readonly dischargeEnabled: boolean;
}
