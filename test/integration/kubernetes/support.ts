import { randomBytes } from 'node:crypto';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { fingerprint, fingerprintKeyFrom } from '../../../shared/domain/fingerprint.js';
import { ownerOf } from '../../../shared/domain/references.js';
import type { Sleep } from '../../../shared/targets/backoff.js';
import type { DeliveryOutcome, SourceVersionFacts } from '../../../shared/targets/contract.js';
import { createKubernetesTarget, type CreateKubernetesTargetOptions, type KubernetesTarget } from '../../../shared/targets/kubernetes/index.js';
import { WriteBudget } from '../../../shared/targets/writeBudget.js';
import type { KubernetesEmulator } from '../../../local/kubernetes/index.js';

export const SOURCE_VAULT = 'https://platform.vault.test';
export const FINGERPRINT_KEY = fingerprintKeyFrom('fp1', randomBytes(32));

/** A sleep that records what it was asked to wait and returns at once. */
export function recordingSleep(): Sleep & { readonly waits: number[] } {
  const waits: number[] = [];
  const sleep = (async (delayInMs: number) => {
    waits.push(delayInMs);
  }) as Sleep & { waits: number[] };
  sleep.waits = waits;
  return sleep;
}

/** Admin clients for arranging and inspecting state around the relay. */
export function adminClients(emulator: KubernetesEmulator): { core: CoreV1Api; apps: AppsV1Api } {
  const kc = new KubeConfig();
  kc.loadFromString(emulator.kubeconfig(emulator.tokens.admin!));
  return { core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api) };
}

/** A Kubernetes target on the emulator, reaching it with a bearer token stored in a (fake) source vault secret. */
export function targetOn(
  emulator: KubernetesEmulator,
  namespace: string,
  extra: Partial<CreateKubernetesTargetOptions> & { token?: string } = {},
): KubernetesTarget & { sleep: ReturnType<typeof recordingSleep> } {
  const sleep = recordingSleep();
  const token = extra.token ?? emulator.tokens.relay!;
  const target = createKubernetesTarget({
    targetId: `k8s-${namespace}`,
    cluster: { name: emulator.cluster, server: emulator.server, caCert: emulator.caCertPem, auth: { type: 'tokenSecret', source: 'platform', secret: 'cluster-token' } },
    namespace,
    readSecretValue: async (sourceId, name) => {
      if (sourceId !== 'platform' || name !== 'cluster-token') throw new Error('unexpected secret');
      return token;
    },
    fingerprintKey: FINGERPRINT_KEY,
    writeBudget: new WriteBudget({ writes: 10_000, perSeconds: 1 }),
    sleep,
    ...extra,
  });
  return Object.assign(target, { sleep });
}

let versionCounter = 0;

/** A source version of `name` with a fresh value; later calls are newer. */
export function sourceVersion(name: string, value = `value-${randomBytes(12).toString('hex')}`): { value: string; facts: SourceVersionFacts } {
  versionCounter++;
  return {
    value,
    facts: {
      owner: ownerOf(SOURCE_VAULT, name),
      version: randomBytes(16).toString('hex'),
      createdOn: 1_700_000_000 + versionCounter * 60,
      fingerprint: fingerprint(FINGERPRINT_KEY, value),
      isLatest: true,
    },
  };
}

/** Asserts that none of `values` appears in what was captured. */
export function containsNone(captured: DeliveryOutcome | unknown, values: readonly string[]): boolean {
  const text = captured instanceof Error ? `${captured.message} ${captured.stack ?? ''}` : JSON.stringify(captured);
  return values.every((v) => !text.includes(v));
}

export const decode = (b64: string | undefined): string | undefined => (b64 === undefined ? undefined : Buffer.from(b64, 'base64').toString('utf8'));

/** Sum of the counters of secret and deployment writes. */
export function writesOf(emulator: KubernetesEmulator): number {
  const c = emulator.counters();
  return ['create secrets', 'update secrets', 'patch secrets', 'delete secrets', 'patch deployments'].reduce((sum, k) => sum + (c[k] ?? 0), 0);
}
