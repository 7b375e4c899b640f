/**
 * Fault injection and request counters, shaped like the Key Vault emulator's: rules match requests by verb,
 * resource, namespace and name, apply a number of times (or forever) with a probability, and have an effect.
 */
import { randomUUID } from 'node:crypto';
import type { ActiveFault, EmulatorCounters, FaultRule, Resource, Verb } from './types.js';

/** A request as faults see it. */
export interface RequestFacts {
  verb: Verb;
  resource: Resource;
  namespace?: string;
  name?: string;
}

function emptyCounters(): EmulatorCounters {
  return { total: 0, unauthorized: 0, forbidden: 0, faults: 0, discovery: 0 } as EmulatorCounters;
}

/** Holds the active fault rules and counters of one emulated cluster. */
export class FaultBook {
  private faults: ActiveFault[] = [];
  private countersValue: EmulatorCounters = emptyCounters();
  private random: () => number = Math.random;

  /** Replaces all rules; returns them with ids. */
  set(rules: readonly FaultRule[]): ActiveFault[] {
    this.faults = rules.map((rule) => ({ ...structuredClone(rule), id: randomUUID(), applied: 0 }));
    return this.list();
  }

  /** Adds one rule; returns it with its id. */
  add(rule: FaultRule): ActiveFault {
    const active: ActiveFault = { ...structuredClone(rule), id: randomUUID(), applied: 0 };
    this.faults.push(active);
    return structuredClone(active);
  }

  clear(): void {
    this.faults = [];
  }

  list(): ActiveFault[] {
    return structuredClone(this.faults);
  }

  /** Finds the first live rule matching the request, spends one application, and returns it. */
  take(request: RequestFacts): ActiveFault | undefined {
    for (const fault of this.faults) {
      if (fault.verb !== undefined && fault.verb !== request.verb) continue;
      if (fault.resource !== undefined && fault.resource !== request.resource) continue;
      if (fault.namespace !== undefined && fault.namespace !== request.namespace) continue;
      if (fault.name !== undefined && fault.name !== request.name) continue;
      if (fault.times !== undefined && fault.applied >= fault.times) continue;
      if (fault.probability !== undefined && this.random() >= fault.probability) continue;
      fault.applied += 1;
      this.countersValue.faults += 1;
      return structuredClone(fault);
    }
    return undefined;
  }

  /** Increments a counter by name. */
  count(name: string): void {
    this.countersValue[name] = (this.countersValue[name] ?? 0) + 1;
  }

  counters(): EmulatorCounters {
    return { ...this.countersValue };
  }

  resetCounters(): void {
    this.countersValue = emptyCounters();
  }
}
