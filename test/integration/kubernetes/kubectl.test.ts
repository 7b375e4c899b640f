import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubernetesEmulator, type KubernetesEmulator } from '../../../local/kubernetes/index.js';
import { sourceVersion, targetOn } from './support.js';

const KUBECTL = '/usr/bin/kubectl';
const hasKubectl = existsSync(KUBECTL);
const run = promisify(execFile);

if (!hasKubectl) console.warn(`kubectl tests skipped: ${KUBECTL} is absent (the tests never install one)`);

describe.skipIf(!hasKubectl)('kubectl against the emulator shows what the relay wrote', () => {
  let emulator: KubernetesEmulator;
  let dir: string;
  let kubeconfig: string;
  const value = `kubectl-visible-${Date.now()}-secret`;

  const kubectl = async (...args: string[]): Promise<string> => {
    const { stdout } = await run(KUBECTL, ['--kubeconfig', kubeconfig, ...args], { env: { PATH: process.env.PATH ?? '', HOME: dir } });
    return stdout;
  };

  beforeAll(async () => {
    emulator = await startKubernetesEmulator({ cluster: 'kubectl-test', namespaces: ['apps'] });
    dir = mkdtempSync(join(tmpdir(), 'kubectl-test-'));
    kubeconfig = emulator.writeKubeconfig(join(dir, 'kubeconfig'), emulator.tokens.admin!);
    const target = targetOn(emulator, 'apps');
    const v = sourceVersion('db-password', value);
    expect((await target.deliver({ placement: { name: 'db', key: 'password' }, source: v.facts, value, policy: { adopt: false, recoverDeleted: true } })).status).toBe('Created');
  });

  afterAll(async () => {
    await emulator?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('kubectl get secret -o yaml shows the data key, the label and the annotations', async () => {
    const yaml = await kubectl('get', 'secret', 'db', '-n', 'apps', '-o', 'yaml');
    expect(yaml).toContain(`password: ${Buffer.from(value).toString('base64')}`);
    expect(yaml).toContain('app.kubernetes.io/managed-by: secret-relay');
    expect(yaml).toContain('secret-relay.io/source: platform.vault.test/db-password');
    expect(yaml).toMatch(/secret-relay\.io\/fingerprint: hmac-sha256:fp1:/);
    expect(yaml).toContain('secret-relay.io/synced-at:');
    expect(yaml).toContain('type: Opaque');
  });

  it('kubectl describe secret shows label, annotations and the key size, never the value', async () => {
    const text = await kubectl('describe', 'secret', 'db', '-n', 'apps');
    expect(text).toMatch(/Labels:\s+app\.kubernetes\.io\/managed-by=secret-relay/);
    expect(text).toContain('secret-relay.io/source-version:');
    expect(text).toMatch(/password:\s+\d+ bytes/);
    expect(text).not.toContain(value);
    expect(text).not.toContain(Buffer.from(value).toString('base64'));
  });

  it('kubectl get secrets -l app.kubernetes.io/managed-by=secret-relay lists the relay’s Secrets as a table', async () => {
    const text = await kubectl('get', 'secrets', '-n', 'apps', '-l', 'app.kubernetes.io/managed-by=secret-relay');
    const lines = text.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+TYPE\s+DATA\s+AGE$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 3))).toEqual([['db', 'Opaque', '1']]);
    const none = await kubectl('get', 'secrets', '-n', 'apps', '-l', 'app.kubernetes.io/managed-by!=secret-relay', '-o', 'name');
    expect(none.trim()).toBe('');
  });
});
