import { execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
    await target.settle();
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

  it('kubectl events --for secret/<name> and kubectl get events show the relay’s Events: Normal on a write, Warning on a failure', async () => {
    const created = await kubectl('events', '--for', 'secret/db', '-n', 'apps');
    const createdLines = created.trim().split('\n');
    expect(createdLines[0]).toMatch(/^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/);
    expect(createdLines.slice(1)).toHaveLength(1);
    expect(createdLines[1]).toMatch(/\s+Normal\s+Created\s+Secret\/db\s+Wrote source platform\.vault\.test\/db-password version [0-9a-f]+ \(key password\)\.$/);

    await kubectl('create', 'secret', 'generic', 'legacy', '-n', 'apps', '--from-literal=password=hand-made');
    const target = targetOn(emulator, 'apps');
    const v = sourceVersion('legacy-password');
    for (let i = 0; i < 2; i++) {
      const outcome = await target.deliver({ placement: { name: 'legacy', key: 'password' }, source: v.facts, value: v.value, policy: { adopt: false, recoverDeleted: true } });
      expect(outcome.status).toBe('FailedNotOwned');
    }
    await target.settle();
    const failed = await kubectl('events', '--for', 'secret/legacy', '-n', 'apps');
    const failedLines = failed.trim().split('\n').slice(1);
    expect(failedLines).toHaveLength(1);
    expect(failedLines[0]).toMatch(/\s+Warning\s+FailedNotOwned\s+Secret\/legacy\s+The target exists but is not owned by the relay/);
    expect(failedLines[0]).toContain('Hint: Rename the target in the route');
    // kubectl shows an aggregated Event's count in LAST SEEN ("… (x2 over …)").
    expect(failedLines[0]).toMatch(/\(x2 over /);

    const warnings = await kubectl('get', 'events', '-n', 'apps', '--field-selector', 'type=Warning,involvedObject.name=legacy', '-o', 'jsonpath={range .items[*]}{.reason} {.count} {.source.component}{"\\n"}{end}');
    expect(warnings.trim()).toBe('FailedNotOwned 2 secret-relay');
    const all = await kubectl('get', 'events', '-n', 'apps', '-o', 'json');
    expect(all).not.toContain(value);
    expect(all).not.toContain(v.value);
    expect(all).not.toContain(Buffer.from(value).toString('base64'));
    await kubectl('delete', 'secret', 'legacy', '-n', 'apps');
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

describe.skipIf(!hasKubectl)('kubectl 1.32 creates, applies, edits, watches, describes and deletes Secrets as on a real cluster', () => {
  let emulator: KubernetesEmulator;
  let dir: string;
  let kubeconfig: string;

  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ PATH: process.env.PATH ?? '', HOME: dir, ...extra });
  const kubectl = async (args: string[], extra: Record<string, string> = {}): Promise<string> => {
    const { stdout } = await run(KUBECTL, ['--kubeconfig', kubeconfig, '-n', 'team', ...args], { env: env(extra) });
    return stdout;
  };
  /** Runs kubectl expecting failure; returns stderr. */
  const kubectlFails = async (args: string[], extra: Record<string, string> = {}): Promise<string> => {
    try {
      await kubectl(args, extra);
    } catch (error) {
      return String((error as { stderr?: string }).stderr ?? '');
    }
    throw new Error(`kubectl ${args.join(' ')} succeeded`);
  };
  const dataOf = async (name: string): Promise<Record<string, string>> => {
    const secret = JSON.parse(await kubectl(['get', 'secret', name, '-o', 'json'])) as { data?: Record<string, string> };
    return Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  };
  const manifest = (name: string, value: string): string => {
    const path = join(dir, `${name}.yaml`);
    writeFileSync(path, `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${name}\n  labels:\n    team: a\ntype: Opaque\nstringData:\n  password: ${value}\n`);
    return path;
  };

  beforeAll(async () => {
    emulator = await startKubernetesEmulator({ cluster: 'kubectl-crud', namespaces: ['team'] });
    dir = mkdtempSync(join(tmpdir(), 'kubectl-crud-'));
    kubeconfig = emulator.writeKubeconfig(join(dir, 'kubeconfig'), emulator.tokens.admin!);
  });

  afterAll(async () => {
    await emulator?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('kubectl version reports the 1.32 client and the emulated 1.32 server', async () => {
    const version = JSON.parse(await kubectl(['version', '-o', 'json'])) as { clientVersion: { minor: string }; serverVersion: { minor: string } };
    expect(version.clientVersion.minor).toMatch(/^32/);
    expect(version.serverVersion.minor).toBe('32');
  });

  it('kubectl create secret generic (a protobuf body) creates the Secret', async () => {
    expect((await kubectl(['create', 'secret', 'generic', 'created', '--from-literal=user=admin', '--from-literal=password=s3cr3t-x'])).trim()).toBe('secret/created created');
    expect(await dataOf('created')).toEqual({ user: 'admin', password: 's3cr3t-x' });
    expect((await kubectlFails(['create', 'secret', 'generic', 'created', '--from-literal=a=b'])).trim()).toBe('error: failed to create secret secrets "created" already exists');
    expect((await kubectl(['create', 'configmap', 'settings', '--from-literal=mode=fast'])).trim()).toBe('configmap/settings created');
    expect((await kubectl(['get', 'configmap', 'settings', '-o', 'jsonpath={.data.mode}'])).trim()).toBe('fast');
  });

  it('kubectl create -f and apply -f validate on the server (no --validate=false) and create, then configure', async () => {
    expect((await kubectl(['create', '-f', manifest('from-file', 'one')])).trim()).toBe('secret/from-file created');
    expect((await kubectl(['apply', '-f', manifest('applied', 'one')])).trim()).toBe('secret/applied created');
    expect((await kubectl(['apply', '-f', manifest('applied', 'two')])).trim()).toBe('secret/applied configured');
    expect(await dataOf('applied')).toEqual({ password: 'two' });
    const unknownField = join(dir, 'typo.yaml');
    writeFileSync(unknownField, 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: typo\nstringDta:\n  a: b\n');
    expect(await kubectlFails(['apply', '-f', unknownField])).toContain('strict decoding error: unknown field "stringDta"');
    expect((await kubectl(['apply', '--server-side', '-f', manifest('ssa', 'one')])).trim()).toBe('secret/ssa serverside-applied');
  });

  it('kubectl edit (EDITOR set to a script) patches the Secret; an immutable one refuses the data change', async () => {
    const editor = join(dir, 'editor.sh');
    writeFileSync(editor, `#!/bin/sh\nsed -i "s/^  user: .*/  user: $(printf edited | base64)/" "$1"\n`);
    chmodSync(editor, 0o755);
    expect((await kubectl(['edit', 'secret', 'created'], { EDITOR: editor })).trim()).toBe('secret/created edited');
    expect((await dataOf('created')).user).toBe('edited');
    await kubectl(['patch', 'secret', 'created', '--type=merge', '-p', '{"immutable":true}']);
    const editorTwo = join(dir, 'editor2.sh');
    writeFileSync(editorTwo, `#!/bin/sh\nsed -i "s/^  user: .*/  user: $(printf again | base64)/" "$1"\n`);
    chmodSync(editorTwo, 0o755);
    const refused = await kubectlFails(['edit', 'secret', 'created'], { EDITOR: editorTwo });
    expect(refused).toContain('error: secrets "created" is invalid');
    expect(refused).toContain('Edit cancelled, no valid changes were saved.');
    expect((await dataOf('created')).user).toBe('edited');
  });

  it('kubectl get -w lists, then shows each change as it happens', async () => {
    const child = spawn(KUBECTL, ['--kubeconfig', kubeconfig, '-n', 'team', 'get', 'secrets', '-w', '-l', 'watched=yes'], { env: env() });
    let out = '';
    let exited = false;
    const waiters: (() => void)[] = [];
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      for (const w of waiters.splice(0)) w();
    });
    child.on('exit', () => {
      exited = true;
      for (const w of waiters.splice(0)) w();
    });
    const waitFor = async (pattern: RegExp): Promise<void> => {
      while (!pattern.test(out)) {
        if (exited) throw new Error(`kubectl get -w ended: ${out}`);
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    };
    try {
      await kubectl(['create', 'secret', 'generic', 'watched-1', '--from-literal=a=b']);
      await kubectl(['label', 'secret', 'watched-1', 'watched=yes']);
      await waitFor(/watched-1/);
      await kubectl(['create', 'secret', 'generic', 'watched-2', '--from-literal=a=b', '--from-literal=c=d']);
      await kubectl(['label', 'secret', 'watched-2', 'watched=yes']);
      await waitFor(/watched-2\s+Opaque\s+2/);
    } finally {
      child.kill();
    }
    const lines = out.trim().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+TYPE\s+DATA\s+AGE$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 3))).toEqual([['watched-1', 'Opaque', '1'], ['watched-2', 'Opaque', '2']]);
  });

  it('kubectl describe shows sizes, never values', async () => {
    const text = await kubectl(['describe', 'secret', 'applied']);
    expect(text).toMatch(/^Name:\s+applied$/m);
    expect(text).toMatch(/Labels:\s+team=a/);
    expect(text).toMatch(/password:\s+3 bytes/);
    expect(text).not.toContain('two');
  });

  it('kubectl delete removes the Secret (and waits for it), and by label selector', async () => {
    expect((await kubectl(['delete', 'secret', 'from-file'])).trim()).toBe('secret "from-file" deleted');
    expect(await kubectlFails(['get', 'secret', 'from-file'])).toContain('Error from server (NotFound): secrets "from-file" not found');
    const deleted = (await kubectl(['delete', 'secrets', '-l', 'team=a'])).trim().split('\n').sort();
    expect(deleted).toEqual(['secret "applied" deleted', 'secret "ssa" deleted']);
    expect((await kubectl(['get', 'secrets', '-l', 'team=a', '-o', 'name'])).trim()).toBe('');
  });
});
