/**
 * Fault injection: rules matched per vault and operation. Latency rules all apply (their delays add up); the first
 * matching non-latency rule decides the answer. A rule with `times` is spent after that many applications.
 */
import { randomUUID } from 'node:crypto';
import { OPERATIONS, type ActiveFault, type FaultEffect, type FaultRule, type OperationName } from './types.js';

/** What the router must do for one request. */
export interface FaultDecision {
  latencyInMs: number;
  /** The first matching non-latency effect, if any. */
  effect?: Exclude<FaultEffect, { kind: 'latency' }>;
}

export class FaultInjector {
  private rules: ActiveFault[] = [];

  constructor(private readonly random: () => number = Math.random) {}

  /** Replaces all rules; returns them with their ids. */
  set(rules: readonly FaultRule[]): ActiveFault[] {
    this.rules = rules.map((r) => toActive(r));
    return this.list();
  }

  /** Adds one rule; returns its id. */
  add(rule: FaultRule): ActiveFault {
    const active = toActive(rule);
    this.rules.push(active);
    return { ...active };
  }

  remove(id: string): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    return this.rules.length !== before;
  }

  clear(): void {
    this.rules = [];
  }

  list(): ActiveFault[] {
    return this.rules.map((r) => ({ ...r }));
  }

  /** Decides the faults of one request and spends the rules it applies. */
  decide(vault: string, operation: OperationName): FaultDecision {
    const decision: FaultDecision = { latencyInMs: 0 };
    for (const rule of this.rules) {
      if (rule.vault !== undefined && rule.vault.toLowerCase() !== vault.toLowerCase()) continue;
      if (rule.operation !== undefined && rule.operation !== operation) continue;
      if (rule.times !== undefined && rule.applied >= rule.times) continue;
      if (rule.effect.kind !== 'latency' && decision.effect) continue;
      if (rule.probability !== undefined && this.random() >= rule.probability) continue;
      rule.applied += 1;
      if (rule.effect.kind === 'latency') decision.latencyInMs += rule.effect.latencyInMs;
      else decision.effect = rule.effect;
    }
    this.rules = this.rules.filter((r) => r.times === undefined || r.applied < r.times);
    return decision;
  }
}

function toActive(rule: FaultRule): ActiveFault {
  validateRule(rule);
  return { ...rule, id: randomUUID(), applied: 0 };
}

/** Throws a TypeError describing the first problem of a rule (used for admin input). */
export function validateRule(rule: FaultRule): void {
  if (!rule || typeof rule !== 'object') throw new TypeError('fault rule must be an object');
  if (rule.operation !== undefined && !(OPERATIONS as readonly string[]).includes(rule.operation)) {
    throw new TypeError(`unknown operation ${String(rule.operation)}; expected one of ${OPERATIONS.join(', ')}`);
  }
  if (rule.times !== undefined && (!Number.isInteger(rule.times) || rule.times < 1)) {
    throw new TypeError('times must be a positive integer');
  }
  if (rule.probability !== undefined && !(rule.probability >= 0 && rule.probability <= 1)) {
    throw new TypeError('probability must be between 0 and 1');
  }
  const effect = rule.effect as FaultEffect | undefined;
  switch (effect?.kind) {
    case 'latency':
      if (!(effect.latencyInMs >= 0)) throw new TypeError('latencyInMs must be a non-negative number');
      return;
    case 'throttle':
    case 'forbidden':
    case 'rejectToken':
    case 'reset':
      return;
    case 'error':
      if (!effect.error || !Number.isInteger(effect.error.status) || effect.error.status < 400 || typeof effect.error.code !== 'string') {
        throw new TypeError('error effect needs error.status (>= 400) and error.code');
      }
      return;
    default:
      throw new TypeError('effect.kind must be one of latency, throttle, forbidden, rejectToken, error, reset');
  }
}
