import type { TokenCredential } from '@azure/identity';
import { SecretClient, type SecretClientOptions } from '@azure/keyvault-secrets';
import { decideDelivery, type OwnershipMarks, type TargetObservation } from '../../domain/decision.js';
import type { Placement } from '../../domain/references.js';
import { KEY_VAULT_BACKOFF_LADDER_IN_MS, realSleep, withBackoff, type Sleep } from '../backoff.js';
import {
  sourceForDecision,
  TransientTargetError,
  type DeleteOutcome,
  type DeliveryOutcome,
  type DeliveryRequest,
  type ObserveOptions,
  type TargetCallOptions,
  type TargetClient,
  type ValidationProblem,
} from '../contract.js';
import { sharedWriteBudget, WriteBudget, type WriteBudgetOptions } from '../writeBudget.js';
import {
  classifyKeyVaultError,
  isBeingRecovered,
  isDeletedButRecoverable,
  isNotFound,
  keyVaultErrorInfo,
  keyVaultRetryHint,
  TargetFailure,
} from './errors.js';
import { metadataOnlyRecovery, type KeyVaultRecoveryApi, type KeyVaultSecretsApi } from './secretsApi.js';
import {
  ambiguousHeads,
  dateFromUnixSeconds,
  deletedInfoFrom,
  latestVersionOf,
  marksFromTags,
  oldestSourceAmong,
  sameTags,
  TAG_REPLACES,
  tagsFromMarks,
  versionInfoFrom,
  type SecretVersionInfo,
} from './transformations.js';
import { validateKeyVaultMetadata, validateKeyVaultPlacement } from './validation.js';

export interface KeyVaultTargetOptions {
  /** Target id from the config. */
  readonly targetId: string;
  /** The customer vault, e.g. `https://contoso.vault.azure.net`. */
  readonly vaultUrl: string;
  readonly credential: TokenCredential;
  /** SDK options from the composition root (TLS trust, `disableChallengeResourceVerification`, retry options). */
  readonly clientOptions?: SecretClientOptions;
  /**
   * Write pacing. Settings select the process-wide bucket of this vault host (first settings win); a `WriteBudget`
   * instance is used as is (tests inject one with a fake clock). Default 30 writes per 10 s.
   */
  readonly writeBudget?: WriteBudget | Pick<WriteBudgetOptions, 'writes' | 'perSeconds'>;
  /** Sleep of the throttling ladder; tests pass a fast one. Default: real time. */
  readonly sleep?: Sleep;
  /** Override of the 1, 2, 4, 8, 16 s ladder. */
  readonly backoffLadderInMs?: readonly number[];
  /** Poll interval while a recovery completes. Default 500 ms (the SDK's default is 2 s). */
  readonly recoverPollIntervalInMs?: number;
  /**
   * Recovery without value reads (see `metadataOnlyRecovery`). `createKeyVaultTarget` and the composition root
   * always pass one; without it the SDK poller recovers, which reads `GET /secrets/{name}/` twice.
   */
  readonly recovery?: KeyVaultRecoveryApi;
}

/** Observe options of the Key Vault target: with `owner`, `previouslyOwned` only counts versions of that source. */
export type KeyVaultObserveOptions = ObserveOptions;

/**
 * Creates the Key Vault target: one customer vault reached through the real `SecretClient`.
 * Permissions on the vault: secrets/readMetadata (observe), secrets/setSecret (deliver), secrets/recover (only for
 * routes with `recoverDeleted`), secrets/delete (deleteIfOwned). It never reads a target value.
 */
export function createKeyVaultTarget(options: KeyVaultTargetOptions): TargetClient {
  const client = new SecretClient(options.vaultUrl, options.credential, options.clientOptions);
  const recovery =
    options.recovery ??
    metadataOnlyRecovery({ vaultUrl: options.vaultUrl, credential: options.credential, ...(options.clientOptions ? { clientOptions: options.clientOptions } : {}) });
  return new KeyVaultTarget(client, { ...options, recovery });
}

const MAX_DECISION_ROUNDS = 3;

/** What a write is expected to do: create a name seen absent, replace a live one, or write after recovering. */
type WriteMode = 'create' | 'replace' | 'after-recovery';

/** `TargetClient` over the narrow `KeyVaultSecretsApi`; see `createKeyVaultTarget`. */
export class KeyVaultTarget implements TargetClient {
  readonly kind = 'keyVault' as const;
  readonly targetId: string;
  private readonly host: string;
  private readonly budget: WriteBudget;
  private readonly sleep: Sleep | undefined;
  private readonly ladderInMs: readonly number[] | undefined;
  private readonly recoverPollIntervalInMs: number;
  private readonly recovery: KeyVaultRecoveryApi | undefined;

  constructor(
    private readonly api: KeyVaultSecretsApi,
    options: Omit<KeyVaultTargetOptions, 'credential' | 'clientOptions'>,
  ) {
    this.targetId = options.targetId;
    this.host = new URL(options.vaultUrl).host.toLowerCase();
    this.budget = options.writeBudget instanceof WriteBudget ? options.writeBudget : sharedWriteBudget(this.host, options.writeBudget);
    this.sleep = options.sleep;
    this.ladderInMs = options.backoffLadderInMs;
    this.recoverPollIntervalInMs = options.recoverPollIntervalInMs ?? 500;
    this.recovery = options.recovery;
  }

  /** Name rules (1–127 of `[A-Za-z0-9-]`), no key, value ≤ 25 KB. No call. */
  validate(placement: Placement, value: string): ValidationProblem[] {
    return validateKeyVaultPlacement(placement, value);
  }

  /**
   * Reads ownership metadata of the current version (listing version properties; never the value). A name with no
   * live versions is looked up among soft-deleted secrets. Permission: secrets/readMetadata (+ deleted-secret read).
   * Throws `TargetFailure` (403/401) or `TransientTargetError`.
   */
  async observe(placement: Placement, options: KeyVaultObserveOptions = {}): Promise<TargetObservation> {
    return this.observeName(placement.name, options.owner, options.abortSignal);
  }

  /**
   * Observes, decides with `decideDelivery`, and writes only when the decision says so: recovering a soft-deleted
   * name first when the route allows it. Validates before any call. Idempotent: a repeat finds UpToDate.
   * Permissions: readMetadata, setSecret, and recover when `policy.recoverDeleted`.
   */
  async deliver(request: DeliveryRequest, options: TargetCallOptions = {}): Promise<DeliveryOutcome> {
    const { placement, source, value, policy } = request;
    const marks: OwnershipMarks = {
      source: source.owner.toLowerCase(),
      sourceVersion: source.version,
      sourceCreatedOn: source.createdOn,
      fingerprint: source.fingerprint,
    };
    const ownTags = tagsFromMarks(marks);
    const problems = [...this.validate(placement, value), ...validateKeyVaultMetadata({ tags: { ...ownTags, [TAG_REPLACES]: 'x'.repeat(32) }, ...withContentType(source.contentType) })];
    if (problems.length > 0) {
      return this.outcome(placement, 'FailedValidation', 'invalid', {
        message: problems.map((p) => `${p.field}: ${p.message}`).join('; '),
      });
    }
    const signal = options.abortSignal;
    try {
      // After a write met a soft-deleted name, the next round looks at the deleted secret instead.
      let deleted = false;
      for (let round = 0; round < MAX_DECISION_ROUNDS; round++) {
        const { observation, currentVersion } = deleted
          ? await this.inspectDeleted(placement.name, marks.source, signal)
          : await this.inspectCurrent(placement.name, marks.source, signal);
        const decision = decideDelivery(await sourceForDecision(request, observation), observation, policy);
        const held = observation.state !== 'absent' ? observation.marks : undefined;
        const previous = held?.source === marks.source ? { previousSourceVersion: held.sourceVersion } : {};
        if (!decision.write) return this.outcome(placement, decision.status, decision.reason, previous);
        if (decision.recover) await this.recover(placement.name, signal);
        // Record which version this one replaces: Key Vault times have 1-second resolution, and this settles ties.
        const tags = currentVersion ? { ...ownTags, [TAG_REPLACES]: currentVersion } : ownTags;
        const mode: WriteMode = decision.recover ? 'after-recovery' : observation.state === 'absent' ? 'create' : 'replace';
        const written = await this.setVersion(placement.name, value, tags, request, mode, signal);
        if (written === 'raced-deletion') {
          deleted = true;
          continue;
        }
        if (written === 'raced-recovery') {
          // Someone is recovering the name: its versions come back, and may be foreign or newer. Look again.
          deleted = false;
          await this.pause(round, signal);
          continue;
        }
        return this.outcome(placement, decision.status, decision.reason, { ...previous, writtenVersion: written });
      }
      throw new TransientTargetError(
        `deliver on ${this.locate(placement.name)}: the name kept changing between soft-deleted, being recovered and live`,
        'FailedUnavailable',
      );
    } catch (error) {
      const classified = classifyKeyVaultError(error, { operation: 'deliver', location: this.locate(placement.name) });
      if (classified instanceof TargetFailure) {
        return this.outcome(placement, classified.status, classified.reason, { message: classified.message });
      }
      throw classified;
    }
  }

  /**
   * Soft-deletes the secret only when its current version carries the relay's marks for `owner`. Missing or already
   * deleted → NotFound (success); foreign → NotOwned, untouched. Permissions: readMetadata, delete.
   */
  async deleteIfOwned(placement: Placement, owner: string, options: TargetCallOptions = {}): Promise<DeleteOutcome> {
    const observation = await this.observeName(placement.name, owner, options.abortSignal);
    if (observation.state !== 'present') return 'NotFound';
    if (observation.marks?.source !== owner.toLowerCase()) return 'NotOwned';
    await this.budget.take(options.abortSignal ? { abortSignal: options.abortSignal } : {});
    const found = await this.call('deleteSecret', placement.name, async () => {
      await this.api.beginDeleteSecret(placement.name, { abortSignal: options.abortSignal, intervalInMs: this.recoverPollIntervalInMs });
      return true;
    }, { notFound: () => false });
    return found ? 'Deleted' : 'NotFound';
  }

  private async observeName(name: string, owner: string | undefined, abortSignal: AbortSignal | undefined): Promise<TargetObservation> {
    return (await this.inspect(name, owner, abortSignal)).observation;
  }

  /** The observation, plus the id of the current version (recorded as `relay-replaces` by the next write). */
  private async inspect(
    name: string,
    owner: string | undefined,
    abortSignal: AbortSignal | undefined,
  ): Promise<{ observation: TargetObservation; currentVersion?: string }> {
    const versions = await this.call('listPropertiesOfSecretVersions', name, async () => {
      const found: SecretVersionInfo[] = [];
      for await (const properties of this.api.listPropertiesOfSecretVersions(name, { abortSignal })) {
        found.push(versionInfoFrom(properties));
      }
      return found;
    }, { notFound: () => [] });
    const ambiguous = ambiguousHeads(versions);
    const latest = ambiguous.length > 0 ? await this.currentAmong(name, ambiguous, abortSignal) : latestVersionOf(versions);
    if (!latest) {
      const deleted = await this.call('getDeletedSecret', name, async () => deletedInfoFrom(await this.api.getDeletedSecret(name, { abortSignal })), {
        notFound: () => undefined,
      });
      if (!deleted) return { observation: { state: 'absent' } };
      const marks = marksFromTags(deleted.tags);
      return { observation: marks ? { state: 'deleted', marks } : { state: 'deleted' } };
    }
    const marks = marksFromTags(latest.tags);
    const current = latest.version ? { currentVersion: latest.version } : {};
    // A disabled current version is what readers of the vault get (403): reported, so it is never called in sync.
    const disabled = latest.enabled ? {} : { disabled: true as const };
    if (marks) return { observation: { state: 'present', marks, ...disabled }, ...current };
    const wanted = owner?.toLowerCase();
    const previouslyOwned = versions.some((v) => {
      if (v === latest) return false;
      const older = marksFromTags(v.tags);
      return older !== undefined && (wanted === undefined || older.source === wanted);
    });
    return { observation: previouslyOwned ? { state: 'present', previouslyOwned: true, ...disabled } : { state: 'present', ...disabled }, ...current };
  }

  /**
   * The observation a delivery decides on, in as few calls as the writer role allows, whatever the name's history:
   * `PATCH /secrets/{n}/` with an empty body answers the properties (tags, id, enabled; never the value) of the
   * version the vault serves as current, so no version listing is needed to find it and no same-second tie or fork
   * can be misread. A 404 `SecretNotFound` means no live version: the name is taken as absent and written at once (a
   * soft-deleted name is then found by the write's 409, which changes nothing). A version listing follows only when
   * the current version carries no relay marks (was an older version ours? `previouslyOwned`). A vault that refuses
   * the empty update (400/403/405, a 404 of another code) is observed by the listing, as `observe` does.
   * Permission: secrets/update (the update changes nothing but may bump the version's `updated` time), else
   * secrets/readMetadata.
   */
  private async inspectCurrent(
    name: string,
    owner: string,
    abortSignal: AbortSignal | undefined,
  ): Promise<{ observation: TargetObservation; currentVersion?: string }> {
    const current = await this.currentVersionOf(name, abortSignal);
    if (current === 'fallback') return this.inspect(name, owner, abortSignal);
    // No live version (absent, or soft-deleted): written at once. A soft-deleted name answers the write with 409
    // ObjectIsDeletedButRecoverable and changes nothing; the next round then reads the deleted secret.
    if (current === 'not-found') return { observation: { state: 'absent' } };
    const held = marksFromTags(current.tags);
    const disabled = current.enabled ? {} : { disabled: true as const };
    const currentVersion = current.version ? { currentVersion: current.version } : {};
    if (held) return { observation: { state: 'present', marks: held, ...disabled }, ...currentVersion };
    const previouslyOwned = await this.ownedBefore(name, current.version, owner, abortSignal);
    return { observation: previouslyOwned ? { state: 'present', previouslyOwned: true, ...disabled } : { state: 'present', ...disabled }, ...currentVersion };
  }

  /** The current version's properties by an empty update; `not-found` on 404, `fallback` when the vault refuses it. */
  private async currentVersionOf(name: string, abortSignal: AbortSignal | undefined): Promise<SecretVersionInfo | 'not-found' | 'fallback'> {
    try {
      return await withBackoff(
        async () => versionInfoFrom(await this.api.updateSecretProperties(name, '', { abortSignal })),
        keyVaultRetryHint,
        this.backoffOptions(abortSignal),
      );
    } catch (error) {
      const info = keyVaultErrorInfo(error);
      if (info.statusCode === 404 && info.code === 'SecretNotFound') return 'not-found';
      if (info.statusCode === 400 || info.statusCode === 403 || info.statusCode === 404 || info.statusCode === 405) return 'fallback';
      throw classifyKeyVaultError(error, { operation: 'updateSecretProperties', location: this.locate(name) });
    }
  }

  /** True when a version other than `current` carries the relay's marks (for `owner`): one listing, rare case. */
  private async ownedBefore(name: string, current: string, owner: string, abortSignal: AbortSignal | undefined): Promise<boolean> {
    const wanted = owner.toLowerCase();
    return this.call('listPropertiesOfSecretVersions', name, async () => {
      for await (const properties of this.api.listPropertiesOfSecretVersions(name, { abortSignal })) {
        if (properties.version === current) continue;
        if (marksFromTags(properties.tags)?.source === wanted) return true;
      }
      return false;
    }, { notFound: () => false });
  }

  /**
   * A soft-deleted name's observation (`GET /deletedsecrets/{n}`). When no deletion is visible any more (recovered or
   * purged meanwhile), the name is observed from the start: it may be live again, and someone else's.
   */
  private async inspectDeleted(
    name: string,
    owner: string,
    abortSignal: AbortSignal | undefined,
  ): Promise<{ observation: TargetObservation; currentVersion?: string }> {
    const deleted = await this.call('getDeletedSecret', name, async () => deletedInfoFrom(await this.api.getDeletedSecret(name, { abortSignal })), {
      notFound: () => undefined,
    });
    if (!deleted) return this.inspectCurrent(name, owner, abortSignal);
    const held = marksFromTags(deleted.tags);
    return { observation: held ? { state: 'deleted', marks: held } : { state: 'deleted' } };
  }

  /**
   * Which of several same-second heads the vault serves as current: its secret list carries the current version's
   * tags (one list walk, only in this rare case). If the vault cannot say, assume the oldest source version, so a
   * rollback is never mistaken for "in sync" (the next delivery of the newest version then rewrites it).
   * Permission: secrets/readMetadata.
   */
  private async currentAmong(
    name: string,
    heads: readonly SecretVersionInfo[],
    abortSignal: AbortSignal | undefined,
  ): Promise<SecretVersionInfo | undefined> {
    const wanted = name.toLowerCase();
    const current = await this.call('listPropertiesOfSecrets', name, async () => {
      for await (const properties of this.api.listPropertiesOfSecrets({ abortSignal })) {
        if (properties.name.toLowerCase() === wanted) return { ...(properties.tags ?? {}) };
      }
      return undefined;
    });
    const match = current ? heads.find((head) => sameTags(head.tags, current)) : undefined;
    return match ?? oldestSourceAmong(heads);
  }

  private async recover(name: string, abortSignal: AbortSignal | undefined): Promise<void> {
    await this.budget.take(abortSignal ? { abortSignal } : {});
    const recovery = this.recovery;
    // The name can stay busy (409 ObjectIsBeingRecovered) for a moment: the following set rides it out on its ladder.
    if (recovery) return this.call('recoverDeletedSecret', name, () => recovery.recoverDeletedSecret(name, { abortSignal }), { notFound: () => undefined });
    await this.call('recoverDeletedSecret', name, async () => {
      const poller = await this.api.beginRecoverDeletedSecret(name, { abortSignal, intervalInMs: this.recoverPollIntervalInMs });
      await poller.pollUntilDone();
    }, { notFound: () => undefined });
  }

  /**
   * Writes one version; 'raced-deletion' when the name turned out soft-deleted, 'raced-recovery' when a create met a
   * recovery in progress (409 ObjectIsBeingRecovered): observe again and re-decide, never write over what comes back.
   */
  private async setVersion(
    name: string,
    value: string,
    tags: Record<string, string>,
    request: DeliveryRequest,
    mode: WriteMode,
    abortSignal: AbortSignal | undefined,
  ): Promise<string | 'raced-deletion' | 'raced-recovery'> {
    const afterRecovery = mode === 'after-recovery';
    await this.budget.take(abortSignal ? { abortSignal } : {});
    const { source } = request;
    try {
      return await withBackoff(
        async () => {
          const secret = await this.api.setSecret(name, value, {
            abortSignal,
            tags,
            ...withContentType(source.contentType),
            ...(source.expiresOn !== undefined ? { expiresOn: dateFromUnixSeconds(source.expiresOn) } : {}),
            ...(source.notBefore !== undefined ? { notBefore: dateFromUnixSeconds(source.notBefore) } : {}),
          });
          return secret.properties.version ?? '';
        },
        (error) => {
          if (mode === 'create' && isBeingRecovered(error)) return undefined;
          // Right after a recovery the name can still look deleted for a moment: wait like for a busy 409.
          return keyVaultRetryHint(error) ?? (afterRecovery && isDeletedButRecoverable(error) ? {} : undefined);
        },
        this.backoffOptions(abortSignal),
      );
    } catch (error) {
      if (!afterRecovery && isDeletedButRecoverable(error)) return 'raced-deletion';
      if (mode === 'create' && isBeingRecovered(error)) return 'raced-recovery';
      throw classifyKeyVaultError(error, { operation: 'setSecret', location: this.locate(name) });
    }
  }

  /** One SDK call with the throttling ladder; errors classified, 404 mapped by `notFound` when given. */
  private async call<T>(operation: string, name: string, fn: () => Promise<T>, options: { notFound?: () => T } = {}): Promise<T> {
    try {
      return await withBackoff(fn, keyVaultRetryHint, this.backoffOptions());
    } catch (error) {
      if (options.notFound && isNotFound(error)) return options.notFound();
      throw classifyKeyVaultError(error, { operation, location: this.locate(name) });
    }
  }

  /** One step of the ladder between decision rounds. */
  private async pause(round: number, abortSignal: AbortSignal | undefined): Promise<void> {
    const ladder = this.ladderInMs ?? KEY_VAULT_BACKOFF_LADDER_IN_MS;
    await (this.sleep ?? realSleep)(ladder[Math.min(round, ladder.length - 1)] ?? 1_000, abortSignal);
  }

  private backoffOptions(abortSignal?: AbortSignal) {
    return {
      ...(this.sleep ? { sleep: this.sleep } : {}),
      ...(this.ladderInMs ? { ladderInMs: this.ladderInMs } : {}),
      ...(abortSignal ? { abortSignal } : {}),
    };
  }

  private locate(name: string): string {
    return `${this.host}/${name}`;
  }

  private outcome(
    placement: Placement,
    status: DeliveryOutcome['status'],
    reason: string,
    extra: Partial<Pick<DeliveryOutcome, 'message' | 'writtenVersion' | 'previousSourceVersion'>> = {},
  ): DeliveryOutcome {
    return { status, targetId: this.targetId, location: this.locate(placement.name), reason, ...extra };
  }
}

function withContentType(contentType: string | undefined): { contentType?: string } {
  return contentType !== undefined ? { contentType } : {};
}
