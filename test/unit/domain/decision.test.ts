import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideDelivery, dependsOnLatest, isWrite } from '../../../shared/domain/index.js';
import type { DeliveryPolicy, OwnershipMarks, SourceFacts, TargetObservation } from '../../../shared/domain/index.js';

const OWNER = 'platform.vault.azure.net/db-password';
const source: SourceFacts = { owner: OWNER, version: 'b'.repeat(32), createdOn: 2000, fingerprint: 'hmac-sha256:fp1:new', isLatest: true };
const ours = (tweak: Partial<OwnershipMarks> = {}): OwnershipMarks => ({
  source: OWNER,
  sourceVersion: 'a'.repeat(32),
  sourceCreatedOn: 1000,
  fingerprint: 'hmac-sha256:fp1:old',
  ...tweak,
});
const current = ours({ sourceVersion: source.version, sourceCreatedOn: source.createdOn, fingerprint: source.fingerprint });
const foreign = ours({ source: 'other.vault.azure.net/db-password' });
const policy = (tweak: Partial<DeliveryPolicy> = {}): DeliveryPolicy => ({ adopt: false, recoverDeleted: true, ...tweak });

describe('decideDelivery: every branch', () => {
  it.each<[string, TargetObservation, Partial<SourceFacts>, Partial<DeliveryPolicy>, string, string, boolean, boolean?]>([
    ['absent target', { state: 'absent' }, {}, {}, 'Created', 'absent', true, false],
    ['deleted, ours, recovery on', { state: 'deleted', marks: ours() }, {}, {}, 'Recovered', 'deleted-owned', true, true],
    ['deleted, ours, recovery off', { state: 'deleted', marks: ours() }, {}, { recoverDeleted: false }, 'FailedValidation', 'deleted-recovery-disabled', false],
    ['deleted, foreign, adopt + recover', { state: 'deleted', marks: foreign }, {}, { adopt: true }, 'Recovered', 'deleted-foreign-adopt', true, true],
    ['deleted, unmarked, adopt + recover', { state: 'deleted' }, {}, { adopt: true }, 'Recovered', 'deleted-foreign-adopt', true, true],
    ['deleted, unmarked, adopt without recover', { state: 'deleted' }, {}, { adopt: true, recoverDeleted: false }, 'FailedNotOwned', 'deleted-foreign', false],
    ['deleted, foreign, no adopt', { state: 'deleted', marks: foreign }, {}, {}, 'FailedNotOwned', 'deleted-foreign', false],
    ['present, unmarked, previously ours', { state: 'present', previouslyOwned: true }, {}, {}, 'Updated', 'overwritten-by-foreign-writer', true, false],
    ['present, unmarked, adopt', { state: 'present' }, {}, { adopt: true }, 'Adopted', 'foreign-adopt', true, false],
    ['present, unmarked, no adopt', { state: 'present' }, {}, {}, 'FailedNotOwned', 'foreign', false],
    ['present, other source, adopt', { state: 'present', marks: foreign }, {}, { adopt: true }, 'Adopted', 'other-source-adopt', true, false],
    ['present, other source, no adopt', { state: 'present', marks: foreign }, {}, {}, 'FailedNotOwned', 'other-source', false],
    ['same version, other fingerprint', { state: 'present', marks: { ...current, fingerprint: 'hmac-sha256:fp1:x' } }, {}, {}, 'Updated', 'fingerprint-changed', true, false],
    ['same version, no fingerprint recorded', { state: 'present', marks: { ...current, fingerprint: undefined } }, {}, {}, 'Updated', 'fingerprint-changed', true, false],
    ['same version, stored value drifted', { state: 'present', marks: current, actualFingerprint: 'hmac-sha256:fp1:x' }, {}, {}, 'Updated', 'value-drift', true, false],
    ['same version, same value', { state: 'present', marks: current, actualFingerprint: source.fingerprint }, {}, {}, 'UpToDate', 'same-version', false],
    ['same version, value not observed', { state: 'present', marks: current }, {}, {}, 'UpToDate', 'same-version', false],
    ['target holds newer (by time)', { state: 'present', marks: ours({ sourceCreatedOn: 3000 }) }, {}, {}, 'SkippedNewerPresent', 'newer-present', false],
    ['target holds older (by time), source not latest', { state: 'present', marks: ours({ sourceCreatedOn: 1000 }) }, { isLatest: false }, {}, 'Updated', 'older-version', true, false],
    ['same second, source latest', { state: 'present', marks: ours({ sourceCreatedOn: 2000 }) }, {}, {}, 'Updated', 'older-version', true, false],
    ['same second, source not latest', { state: 'present', marks: ours({ sourceCreatedOn: 2000 }) }, { isLatest: false }, {}, 'SkippedNewerPresent', 'newer-present', false],
    ['no time recorded, source latest', { state: 'present', marks: ours({ sourceCreatedOn: undefined }) }, {}, {}, 'Updated', 'older-version', true, false],
    ['no time recorded, source not latest', { state: 'present', marks: ours({ sourceCreatedOn: undefined }) }, { isLatest: false }, {}, 'SkippedNewerPresent', 'newer-present', false],
  ])('%s', (_label, target, sourceTweak, policyTweak, status, reason, write, recover) => {
    const decision = decideDelivery({ ...source, ...sourceTweak }, target, policy(policyTweak));
    expect(decision).toEqual(write ? { write, status, reason, recover } : { write, status, reason });
    expect(isWrite(decision.status)).toBe(decision.write);
  });
});

const hex32 = fc.stringMatching(/^[0-9a-f]{32}$/);
const fp = fc.constantFrom('hmac-sha256:fp1:A', 'hmac-sha256:fp1:B', 'hmac-sha256:fp2:A');
const sourceArb = fc.record({
  owner: fc.constantFrom(OWNER, 'platform.vault.azure.net/other'),
  version: hex32,
  createdOn: fc.integer({ min: 0, max: 10 }),
  fingerprint: fp,
  isLatest: fc.boolean(),
});
const marksArb = fc.record(
  {
    source: fc.constantFrom(OWNER, 'platform.vault.azure.net/other', 'x.vault.azure.net/db-password'),
    sourceVersion: hex32,
    sourceCreatedOn: fc.integer({ min: 0, max: 10 }),
    fingerprint: fp,
  },
  { requiredKeys: ['source', 'sourceVersion'] },
);
const observationArb: fc.Arbitrary<TargetObservation> = fc.oneof(
  fc.constant({ state: 'absent' as const }),
  fc.record({ state: fc.constant('deleted' as const), marks: marksArb }, { requiredKeys: ['state'] }),
  fc.record(
    { state: fc.constant('present' as const), marks: marksArb, previouslyOwned: fc.boolean(), actualFingerprint: fp },
    { requiredKeys: ['state'] },
  ),
);
const policyArb = fc.record({ adopt: fc.boolean(), recoverDeleted: fc.boolean() });

describe('decideDelivery: properties', () => {
  it('never rolls back: a present target holding a later source version is never written', () => {
    fc.assert(
      fc.property(sourceArb, marksArb, policyArb, fc.boolean(), (src, marks, pol, previouslyOwned) => {
        const newer = { ...marks, source: src.owner, sourceCreatedOn: src.createdOn + 1 };
        fc.pre(newer.sourceVersion !== src.version);
        expect(decideDelivery(src, { state: 'present', marks: newer, previouslyOwned }, pol).write).toBe(false);
      }),
    );
  });

  it('never rolls back a soft-deleted target either: recovering it would only bring back a newer version', () => {
    const newer = ours({ sourceVersion: 'c'.repeat(32), sourceCreatedOn: source.createdOn + 1 });
    expect(decideDelivery(source, { state: 'deleted', marks: newer }, policy())).toMatchObject({
      write: false,
      status: 'SkippedNewerPresent',
    });
  });

  it('never writes to a target it does not own unless the route adopts (or the previous object was ours)', () => {
    fc.assert(
      fc.property(sourceArb, observationArb, policyArb, (src, target, pol) => {
        const decision = decideDelivery(src, target, pol);
        if (target.state === 'absent') return;
        const owned = target.marks?.source === src.owner;
        if (!owned && decision.write) {
          expect(pol.adopt || (target.state === 'present' && target.previouslyOwned === true)).toBe(true);
        }
      }),
    );
  });

  it('is idempotent: a target holding this version and value is never written', () => {
    fc.assert(
      fc.property(sourceArb, policyArb, fc.boolean(), (src, pol, previouslyOwned) => {
        const marks = { source: src.owner, sourceVersion: src.version, sourceCreatedOn: src.createdOn, fingerprint: src.fingerprint };
        const decision = decideDelivery(src, { state: 'present', marks, previouslyOwned, actualFingerprint: src.fingerprint }, pol);
        expect(decision).toEqual({ write: false, status: 'UpToDate', reason: 'same-version' });
      }),
    );
  });

  it('dependsOnLatest says exactly when isLatest can change the decision (deliveries ask the source again then)', () => {
    fc.assert(
      fc.property(sourceArb, observationArb, policyArb, (src, target, pol) => {
        const latest = decideDelivery({ ...src, isLatest: true }, target, pol);
        const notLatest = decideDelivery({ ...src, isLatest: false }, target, pol);
        if (!dependsOnLatest(src, target)) expect(latest).toEqual(notLatest);
      }),
    );
    const tied = ours({ sourceVersion: 'c'.repeat(32), sourceCreatedOn: source.createdOn });
    expect(dependsOnLatest(source, { state: 'present', marks: tied })).toBe(true);
    expect(decideDelivery({ ...source, isLatest: false }, { state: 'present', marks: tied }, policy()).status).toBe('SkippedNewerPresent');
    expect(dependsOnLatest(source, { state: 'present', marks: ours() })).toBe(false);
    expect(dependsOnLatest(source, { state: 'present', marks: current })).toBe(false);
    expect(dependsOnLatest(source, { state: 'present', marks: foreign })).toBe(false);
  });

  it('is total: every observation gets a decision whose status agrees with write', () => {
    fc.assert(
      fc.property(sourceArb, observationArb, policyArb, (src, target, pol) => {
        const decision = decideDelivery(src, target, pol);
        expect(isWrite(decision.status)).toBe(decision.write);
      }),
    );
  });
});
