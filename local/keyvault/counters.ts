/** Per-vault request counters. */
import { OPERATIONS, type OperationName, type VaultCounters } from './types.js';

export function emptyCounters(): VaultCounters {
  const counters = { challenges: 0, conflicts: 0, faults: 0, total: 0 } as VaultCounters;
  for (const op of OPERATIONS) counters[op] = 0;
  return counters;
}

export class CounterBook {
  private readonly byVault = new Map<string, VaultCounters>();
  private readonly running = new Map<string, { now: number; peak: number }>();

  constructor(vaults: readonly string[]) {
    for (const v of vaults) this.byVault.set(v, emptyCounters());
  }

  private of(vault: string): VaultCounters {
    let c = this.byVault.get(vault);
    if (!c) {
      c = emptyCounters();
      this.byVault.set(vault, c);
    }
    return c;
  }

  request(vault: string): void {
    this.of(vault).total += 1;
  }

  challenge(vault: string): void {
    this.of(vault).challenges += 1;
  }

  operation(vault: string, op: OperationName): void {
    this.of(vault)[op] += 1;
  }

  conflict(vault: string): void {
    this.of(vault).conflicts += 1;
  }

  fault(vault: string): void {
    this.of(vault).faults += 1;
  }

  /** An authenticated request of `vault` started being served (latency and handling included until `end`). */
  begin(vault: string): void {
    const r = this.running.get(vault) ?? { now: 0, peak: 0 };
    r.now += 1;
    r.peak = Math.max(r.peak, r.now);
    this.running.set(vault, r);
  }

  end(vault: string): void {
    const r = this.running.get(vault);
    if (r) r.now -= 1;
  }

  /** The most authenticated requests of `vault` served at once since the last reset. */
  peakInFlight(vault: string): number {
    return this.running.get(vault)?.peak ?? 0;
  }

  /** A copy of the counters of one vault. */
  get(vault: string): VaultCounters {
    return { ...this.of(vault) };
  }

  /** A copy of the counters of every vault. */
  all(): Record<string, VaultCounters> {
    return Object.fromEntries([...this.byVault.entries()].map(([k, v]) => [k, { ...v }]));
  }

  reset(): void {
    for (const key of this.byVault.keys()) this.byVault.set(key, emptyCounters());
    for (const r of this.running.values()) r.peak = r.now;
  }
}
