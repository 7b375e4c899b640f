/** Per-vault request counters. */
import { OPERATIONS, type OperationName, type VaultCounters } from './types.js';

export function emptyCounters(): VaultCounters {
  const counters = { challenges: 0, conflicts: 0, faults: 0, total: 0 } as VaultCounters;
  for (const op of OPERATIONS) counters[op] = 0;
  return counters;
}

export class CounterBook {
  private readonly byVault = new Map<string, VaultCounters>();

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
  }
}
