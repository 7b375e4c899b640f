import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeliveryPolicy } from '../../shared/domain/decision.js';
import { fingerprint, fingerprintKeyFrom } from '../../shared/domain/fingerprint.js';
import { ownerOf, type Placement } from '../../shared/domain/references.js';
import type { DeliveryOutcome, DeliveryRequest, SourceVersionFacts, TargetClient } from '../../shared/targets/contract.js';

/** What a target holds at a placement, read around the relay (the harness may read values; the relay never does). */
export interface RawTargetState {
  readonly value: string;
  /** True when the current object carries the relay's ownership marks. */
  readonly owned: boolean;
  readonly sourceVersion?: string;
}

/**
 * What the contract suite needs from one target kind: a fresh client plus hooks that arrange and inspect state
 * without going through the relay. Placements are generic (`{ name, key? }`), so Key Vault, Kubernetes and the fake
 * share the suite unchanged.
 */
export interface ContractHarness {
  readonly target: TargetClient;
  readonly features: {
    /** Deleted names stay blocked until recovered (Key Vault soft delete). */
    readonly softDelete: boolean;
    /** A foreign write on top of a relay-owned object is detected and repaired (`previouslyOwned` or value drift). */
    readonly repairsForeignOverwrite: boolean;
  };
  /** A fresh valid placement that no other test uses. */
  placement(): Placement;
  /** A placement the target's naming rules refuse. */
  readonly invalidPlacement: Placement;
  /** A value over the target's size limit. */
  readonly oversizedValue: string;
  /** Writes an object (or a version on top of an existing one) without relay ownership marks. */
  seedForeign(placement: Placement, value: string): Promise<void>;
  /** Deletes the object as a customer would (soft delete where the kind has it). */
  softDelete(placement: Placement): Promise<void>;
  /** The current object, or undefined when absent or deleted. */
  readRaw(placement: Placement): Promise<RawTargetState | undefined>;
  /** Total writes the target has received so far (the suite compares differences). */
  writeCount(): Promise<number>;
  teardown(): Promise<void>;
}

const SOURCE_VAULT = 'https://contract-source.vault.test';
const KEY = fingerprintKeyFrom('contract', randomBytes(32));
const DEFAULT_POLICY: DeliveryPolicy = { adopt: false, recoverDeleted: true };

/**
 * Runs the target contract against one harness factory (called before each test; `teardown` after each).
 * Every value used is tracked, and every outcome, message and error is checked not to contain any of them.
 */
export function describeTargetContract(name: string, setup: () => Promise<ContractHarness>): void {
  describe(`TargetClient contract: ${name}`, () => {
    let h: ContractHarness;
    const values: string[] = [];
    let versionCounter = 0;

    beforeEach(async () => {
      h = await setup();
    });
    afterEach(async () => {
      await h.teardown();
    });

    const newValue = (label: string): string => {
      const value = `${label}-${randomBytes(12).toString('hex')}`;
      values.push(value);
      return value;
    };

    /** A source version: later calls are newer (createdOn grows). */
    const sourceVersion = (sourceName: string, options: { isLatest?: boolean; createdOn?: number } = {}) => {
      versionCounter++;
      const value = newValue(`v${versionCounter}`);
      const facts: SourceVersionFacts = {
        owner: ownerOf(SOURCE_VAULT, sourceName),
        version: randomBytes(16).toString('hex'),
        createdOn: options.createdOn ?? 1_700_000_000 + versionCounter * 60,
        fingerprint: fingerprint(KEY, value),
        isLatest: options.isLatest ?? true,
        contentType: 'text/plain',
      };
      return { value, facts };
    };

    const assertNoValue = (captured: unknown): void => {
      const text = typeof captured === 'string' ? captured : JSON.stringify(captured, Object.getOwnPropertyNames(captured ?? {}));
      const serialized = `${text} ${captured instanceof Error ? `${captured.message} ${captured.stack}` : ''}`;
      for (const value of values) expect(serialized.includes(value), 'a captured outcome contains a secret value').toBe(false);
    };

    const deliver = async (
      placement: Placement,
      version: { value: string; facts: SourceVersionFacts },
      policy: Partial<DeliveryPolicy> = {},
    ): Promise<DeliveryOutcome> => {
      const request: DeliveryRequest = { placement, source: version.facts, value: version.value, policy: { ...DEFAULT_POLICY, ...policy } };
      try {
        const outcome = await h.target.deliver(request);
        assertNoValue(outcome);
        return outcome;
      } catch (error) {
        assertNoValue(error);
        throw error;
      }
    };

    it('creates an absent target and marks it as the relay’s', async () => {
      const placement = h.placement();
      const v1 = sourceVersion('created');
      const before = await h.writeCount();
      const outcome = await deliver(placement, v1);
      expect(outcome).toMatchObject({ status: 'Created', targetId: h.target.targetId });
      expect(outcome.writtenVersion).toBeTruthy();
      expect(await h.writeCount()).toBe(before + 1);
      expect(await h.readRaw(placement)).toMatchObject({ value: v1.value, owned: true, sourceVersion: v1.facts.version });
      expect(await h.target.observe(placement)).toMatchObject({ state: 'present', marks: { sourceVersion: v1.facts.version } });
    });

    it('writes exactly once when the same version is delivered twice (UpToDate)', async () => {
      const placement = h.placement();
      const v1 = sourceVersion('twice');
      const before = await h.writeCount();
      expect((await deliver(placement, v1)).status).toBe('Created');
      const second = await deliver(placement, v1);
      expect(second).toMatchObject({ status: 'UpToDate', previousSourceVersion: v1.facts.version });
      expect(second.writtenVersion).toBeUndefined();
      expect(await h.writeCount()).toBe(before + 1);
    });

    it('updates to a newer version', async () => {
      const placement = h.placement();
      const v1 = sourceVersion('newer');
      const v2 = sourceVersion('newer');
      await deliver(placement, v1);
      const outcome = await deliver(placement, v2);
      expect(outcome).toMatchObject({ status: 'Updated', previousSourceVersion: v1.facts.version });
      expect(await h.readRaw(placement)).toMatchObject({ value: v2.value, owned: true, sourceVersion: v2.facts.version });
    });

    it('never rolls back: an older version after a newer one is SkippedNewerPresent', async () => {
      const placement = h.placement();
      const v1 = sourceVersion('rollback', { isLatest: false });
      const v2 = sourceVersion('rollback');
      await deliver(placement, v2);
      const before = await h.writeCount();
      const outcome = await deliver(placement, v1);
      expect(outcome.status).toBe('SkippedNewerPresent');
      expect(await h.writeCount()).toBe(before);
      expect(await h.readRaw(placement)).toMatchObject({ value: v2.value, sourceVersion: v2.facts.version });
    });

    it('leaves a foreign object untouched (FailedNotOwned)', async () => {
      const placement = h.placement();
      const foreign = newValue('foreign');
      await h.seedForeign(placement, foreign);
      const before = await h.writeCount();
      const outcome = await deliver(placement, sourceVersion('foreign'));
      expect(outcome.status).toBe('FailedNotOwned');
      expect(await h.writeCount()).toBe(before);
      expect(await h.readRaw(placement)).toMatchObject({ value: foreign, owned: false });
    });

    it('refuses an object owned for another source (FailedNotOwned)', async () => {
      const placement = h.placement();
      await deliver(placement, sourceVersion('first-owner'));
      const outcome = await deliver(placement, sourceVersion('second-owner'));
      expect(outcome).toMatchObject({ status: 'FailedNotOwned', reason: 'other-source' });
    });

    it('adopts a foreign object when the route allows it (Adopted)', async () => {
      const placement = h.placement();
      await h.seedForeign(placement, newValue('adoptee'));
      const v1 = sourceVersion('adopt');
      const outcome = await deliver(placement, v1, { adopt: true });
      expect(outcome.status).toBe('Adopted');
      expect(await h.readRaw(placement)).toMatchObject({ value: v1.value, owned: true, sourceVersion: v1.facts.version });
      expect((await deliver(placement, v1)).status).toBe('UpToDate');
    });

    it('repairs a foreign overwrite of a relay-owned object', async (context) => {
      if (!h.features.repairsForeignOverwrite) context.skip();
      const placement = h.placement();
      const v1 = sourceVersion('overwrite');
      await deliver(placement, v1);
      await h.seedForeign(placement, newValue('overwriter'));
      const outcome = await deliver(placement, v1);
      expect(outcome.status).toBe('Updated');
      expect(await h.readRaw(placement)).toMatchObject({ value: v1.value, owned: true });
    });

    it('recovers a soft-deleted name, then updates it (Recovered)', async (context) => {
      if (!h.features.softDelete) context.skip();
      const placement = h.placement();
      const v1 = sourceVersion('recover');
      const v2 = sourceVersion('recover');
      await deliver(placement, v1);
      await h.softDelete(placement);
      expect(await h.readRaw(placement)).toBeUndefined();
      expect((await h.target.observe(placement)).state).toBe('deleted');
      const outcome = await deliver(placement, v2);
      expect(outcome.status).toBe('Recovered');
      expect(await h.readRaw(placement)).toMatchObject({ value: v2.value, owned: true, sourceVersion: v2.facts.version });
    });

    it('does not recover a soft-deleted name when the route forbids it', async (context) => {
      if (!h.features.softDelete) context.skip();
      const placement = h.placement();
      const v1 = sourceVersion('no-recover');
      await deliver(placement, v1);
      await h.softDelete(placement);
      const before = await h.writeCount();
      const outcome = await deliver(placement, sourceVersion('no-recover'), { recoverDeleted: false });
      expect(outcome).toMatchObject({ status: 'FailedValidation', reason: 'deleted-recovery-disabled' });
      expect(await h.writeCount()).toBe(before);
      expect(await h.readRaw(placement)).toBeUndefined();
    });

    it('deleteIfOwned: missing is NotFound, foreign is NotOwned and untouched, owned is Deleted', async () => {
      const owner = ownerOf(SOURCE_VAULT, 'delete-me');
      const missing = h.placement();
      expect(await h.target.deleteIfOwned(missing, owner)).toBe('NotFound');

      const foreignPlacement = h.placement();
      const foreign = newValue('foreign-delete');
      await h.seedForeign(foreignPlacement, foreign);
      expect(await h.target.deleteIfOwned(foreignPlacement, owner)).toBe('NotOwned');
      expect(await h.readRaw(foreignPlacement)).toMatchObject({ value: foreign, owned: false });

      const owned = h.placement();
      await deliver(owned, sourceVersion('delete-me'));
      expect(await h.target.deleteIfOwned(owned, ownerOf(SOURCE_VAULT, 'someone-else'))).toBe('NotOwned');
      expect(await h.readRaw(owned)).toBeDefined();
      expect(await h.target.deleteIfOwned(owned, owner)).toBe('Deleted');
      expect(await h.readRaw(owned)).toBeUndefined();
      expect(await h.target.deleteIfOwned(owned, owner)).toBe('NotFound');
    });

    it('refuses an oversized value before any write (FailedValidation)', async () => {
      const placement = h.placement();
      const big = { value: h.oversizedValue, facts: { ...sourceVersion('oversized').facts, fingerprint: fingerprint(KEY, h.oversizedValue) } };
      values.push(h.oversizedValue.slice(0, 64));
      expect(h.target.validate(placement, big.value).map((p) => p.field)).toContain('value');
      const before = await h.writeCount();
      const outcome = await deliver(placement, big);
      expect(outcome).toMatchObject({ status: 'FailedValidation', reason: 'invalid' });
      expect(await h.writeCount()).toBe(before);
      expect(await h.readRaw(placement)).toBeUndefined();
    });

    it('refuses a name the target does not allow before any write (FailedValidation)', async () => {
      const v1 = sourceVersion('bad-name');
      expect(h.target.validate(h.invalidPlacement, v1.value).length).toBeGreaterThan(0);
      const before = await h.writeCount();
      const outcome = await deliver(h.invalidPlacement, v1);
      expect(outcome).toMatchObject({ status: 'FailedValidation', reason: 'invalid' });
      expect(outcome.message).toBeTruthy();
      expect(await h.writeCount()).toBe(before);
    });

    it('observes an absent placement as absent without writing', async () => {
      const before = await h.writeCount();
      expect(await h.target.observe(h.placement())).toEqual({ state: 'absent' });
      expect(await h.writeCount()).toBe(before);
    });
  });
}
