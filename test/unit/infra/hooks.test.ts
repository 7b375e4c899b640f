/**
 * The azd hooks (infra/scripts/*.sh, run by azure.yaml with `sh`) against fake `az`/`azd` on PATH (fakeCli.ts):
 * what each hook checks, what it records in the azd environment, and what it never does. The PowerShell twins
 * cannot run here (no pwsh on this machine or in CI); their parity with the sh hooks is checked by text below.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runHook, type Answer } from './fakeCli.js';
import { repoRoot } from './files.js';

const VAULT_A = '/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/src-a';
const VAULT_B = '/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/src-b';
const baseEnv = { AZURE_ENV_NAME: 'relay-dev', AZURE_LOCATION: 'East US', AZURE_SUBSCRIPTION_ID: 's1' };

/** Answers for a subscription where every check passes. */
function healthy(overrides: readonly Answer[] = []): Answer[] {
  return [
    ...overrides,
    { when: 'az functionapp list-flexconsumption-locations *', output: '1' },
    { when: `az resource show --ids ${VAULT_A} *`, output: 'true' },
    { when: `az resource show --ids ${VAULT_B} *`, output: 'true' },
    { when: 'az eventgrid system-topic list *', output: '' },
    { when: 'az keyvault list-deleted *', output: '0' },
    { when: 'az role definition list *', output: '0' },
    { when: 'az storage blob exists *', output: 'true' },
    { when: 'azd env set *' },
  ];
}

function envSets(calls: readonly string[]): Record<string, string> {
  return Object.fromEntries(
    calls.filter((c) => c.startsWith('azd env set ')).map((c) => {
      const [name, ...value] = c.slice('azd env set '.length).split(' ');
      return [name!, value.join(' ')];
    }),
  );
}

describe('preprovision-check.sh', () => {
  it('passes a healthy subscription, read-only: records no existing topics and the default vault create mode', () => {
    const run = runHook('preprovision-check.sh', { ...baseEnv, RELAY_SOURCE_VAULT_IDS: `${VAULT_A}, ${VAULT_B}`, RELAY_VAULT_NAME: 'kv-relay-x', AUDIT_STORAGE_ACCOUNT_NAME: 'staudit' }, healthy());
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('preprovision: checks passed');
    expect(envSets(run.calls)).toEqual({ RELAY_SOURCE_VAULT_TOPICS: ',', RELAY_VAULT_CREATE_MODE: 'default' });
    // Read-only on Azure: only list/show/exists calls.
    for (const call of run.calls.filter((c) => c.startsWith('az '))) expect(call).toMatch(/^az \S+( \S+)? (list|show|exists|list-deleted|list-flexconsumption-locations)\b/);
    // The region is matched by name and by its normalised form (East US → eastus).
    expect(run.calls.find((c) => c.includes('list-flexconsumption-locations'))).toContain("name=='eastus'");
    expect(run.stdout).toContain('relay config config/relay.config.json is present in staudit');
  });

  it('records an existing system topic per vault, aligned with the vault list', () => {
    const run = runHook(
      'preprovision-check.sh',
      { ...baseEnv, RELAY_SOURCE_VAULT_IDS: `${VAULT_A},${VAULT_B}` },
      healthy([{ when: `az eventgrid system-topic list *${VAULT_B}*`, output: 'existing-topic-b' }]),
    );
    expect(run.status).toBe(0);
    expect(envSets(run.calls).RELAY_SOURCE_VAULT_TOPICS).toBe(',existing-topic-b');
    expect(run.stdout).toContain(`${VAULT_B} already has system topic existing-topic-b: it is referenced, not replaced`);
  });

  it('a soft-deleted relay vault of the same name is recovered, not recreated', () => {
    const run = runHook('preprovision-check.sh', { ...baseEnv, RELAY_VAULT_NAME: 'kv-relay-x' }, healthy([{ when: "az keyvault list-deleted *kv-relay-x*", output: '1' }]));
    expect(run.status).toBe(0);
    expect(envSets(run.calls).RELAY_VAULT_CREATE_MODE).toBe('recover');
    expect(run.stdout).toContain('relay vault kv-relay-x is soft-deleted');
  });

  it('names every problem and stops: no Flex Consumption, a missing vault, an access-policy vault, a taken role name', () => {
    const run = runHook(
      'preprovision-check.sh',
      { ...baseEnv, RELAY_SOURCE_VAULT_IDS: `${VAULT_A},${VAULT_B}` },
      healthy([
        { when: 'az functionapp list-flexconsumption-locations *', output: '0' },
        { when: `az resource show --ids ${VAULT_A} *`, exit: 3, output: '' },
        { when: `az resource show --ids ${VAULT_B} *`, output: 'false' },
        { when: 'az role definition list *Secret Relay Writer (relay-dev)*', output: '1' },
      ]),
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('region East US does not offer Flex Consumption');
    expect(run.stderr).toContain(`source vault ${VAULT_A} does not exist or is not visible to you`);
    expect(run.stderr).toContain(`source vault ${VAULT_B} uses access policies`);
    expect(run.stderr).toContain('a role named "Secret Relay Writer (relay-dev)" already exists in another subscription');
    expect(run.stderr).not.toContain('Secret Relay Source (relay-dev)');
    expect(run.stderr).toContain('preprovision: 4 problem(s); nothing was deployed');
  });

  it('the role-name check looks only outside this subscription (a re-provision of the same environment passes)', () => {
    const run = runHook('preprovision-check.sh', baseEnv, healthy());
    const roleCalls = run.calls.filter((c) => c.startsWith('az role definition list'));
    expect(roleCalls).toHaveLength(2);
    for (const call of roleCalls) expect(call).toContain("?!contains(id, '/subscriptions/s1/')");
  });

  it('config presence: a note on the first provision, a warning (not a failure) when the blob is missing', () => {
    const first = runHook('preprovision-check.sh', baseEnv, healthy());
    expect(first.status).toBe(0);
    expect(first.stdout).toContain('no relay config yet (first provision)');
    expect(first.calls.some((c) => c.startsWith('az storage'))).toBe(false);
    const missing = runHook('preprovision-check.sh', { ...baseEnv, AUDIT_STORAGE_ACCOUNT_NAME: 'staudit' }, healthy([{ when: 'az storage blob exists *', output: 'false' }]));
    expect(missing.status).toBe(0);
    expect(missing.stderr).toContain('warning: no relay config at config/relay.config.json in staudit');
    expect(missing.calls.find((c) => c.startsWith('az storage blob exists'))).toContain('--auth-mode login --account-name staudit --container-name config --name relay.config.json');
  });

  it('refuses to run without the azd environment', () => {
    const run = runHook('preprovision-check.sh', { AZURE_LOCATION: 'eastus', AZURE_SUBSCRIPTION_ID: 's1' }, healthy());
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('AZURE_ENV_NAME is not set');
    expect(run.calls).toEqual([]);
  });
});

describe('ensure-fingerprint-key.sh (postprovision)', () => {
  const env = { RELAY_VAULT_NAME: 'kv-relay-x' };

  it('creates both keys once: 48 random bytes in base64, uploaded from a file, never echoed', () => {
    const run = runHook('ensure-fingerprint-key.sh', env, [
      { when: 'az keyvault secret list *', output: '0' },
      { when: 'az keyvault secret set *' },
    ]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const sets = run.calls.filter((c) => c.startsWith('az keyvault secret set'));
    expect(sets).toHaveLength(2);
    expect(sets[0]).toMatch(/--vault-name kv-relay-x --name relay-fingerprint-key --file \S+ --encoding utf-8 --content-type application\/vnd\.secret-relay\.fingerprint-key\+base64 --output none$/);
    expect(sets[1]).toContain('--name relay-audit-chain-key');
    expect(run.files).toHaveLength(2);
    for (const key of run.files) {
      expect(key).toMatch(/^[A-Za-z0-9+/]{64}$/);
      expect(Buffer.from(key, 'base64')).toHaveLength(48);
      expect(run.stdout).not.toContain(key);
    }
    expect(run.files[0]).not.toBe(run.files[1]);
    expect(run.stdout).toContain("created fingerprint key 'relay-fingerprint-key' in kv-relay-x");
  });

  it('leaves existing keys alone (no read, no replace)', () => {
    const run = runHook('ensure-fingerprint-key.sh', env, [{ when: 'az keyvault secret list *', output: '1' }]);
    expect(run.status).toBe(0);
    expect(run.calls.filter((c) => c.startsWith('az keyvault secret') && !c.startsWith('az keyvault secret list'))).toEqual([]);
    expect(run.stdout).toContain("fingerprint key 'relay-fingerprint-key' already exists in kv-relay-x; left unchanged");
  });

  it('waits for a fresh role assignment (listing denied), then gives up after 10 tries naming the role', () => {
    const run = runHook('ensure-fingerprint-key.sh', env, [{ when: 'az keyvault secret list *', exit: 1 }]);
    expect(run.status).toBe(1);
    expect(run.calls.filter((c) => c.startsWith('az keyvault secret list'))).toHaveLength(10);
    expect(run.calls.filter((c) => c === 'sleep 30')).toHaveLength(9);
    expect(run.stderr).toContain('check that you hold Key Vault Secrets Officer on it');
  });

  it('refuses to run before the first provision', () => {
    const run = runHook('ensure-fingerprint-key.sh', {}, []);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('RELAY_VAULT_NAME is not set');
  });
});

describe('enable-event-subscriptions.sh (postdeploy): Event Grid subscriptions within one azd up', () => {
  it('on the first azd up: turns the subscriptions on and provisions again', () => {
    const run = runHook('enable-event-subscriptions.sh', {}, [{ when: 'azd env set *' }, { when: 'azd provision *' }]);
    expect(run.status).toBe(0);
    expect(run.calls).toEqual(['azd env set RELAY_EVENT_SUBSCRIPTIONS true', 'azd provision --no-prompt']);
  });

  it('later runs do nothing', () => {
    const run = runHook('enable-event-subscriptions.sh', { RELAY_EVENT_SUBSCRIPTIONS: 'true' }, []);
    expect(run.status).toBe(0);
    expect(run.calls).toEqual([]);
  });

  it('a failed second provision fails the hook (azd up reports it)', () => {
    const run = runHook('enable-event-subscriptions.sh', {}, [{ when: 'azd env set *' }, { when: 'azd provision *', exit: 1 }]);
    expect(run.status).toBe(1);
  });
});

describe('PowerShell twins (not runnable here: no pwsh)', () => {
  const scripts = ['preprovision-check', 'ensure-fingerprint-key', 'enable-event-subscriptions'];

  /** `az <group…> <verb>` invocations and `azd env set NAME`, the hooks' whole effect on the outside. */
  function externalCalls(text: string): string[] {
    const code = text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
    const az = [...code.matchAll(/\baz ((?:[a-z-]+ ){1,3}?)(?:--|\$|"|$)/gm)].map((m) => `az ${m[1]!.trim()}`);
    const azd = [...code.matchAll(/\bazd (env set [A-Z_]+|provision --no-prompt)/g)].map((m) => `azd ${m[1]}`);
    return [...new Set([...az, ...azd])].sort();
  }

  it.each(scripts)('%s.ps1 exists and makes the same az/azd calls as its .sh twin', (name) => {
    const sh = readFileSync(join(repoRoot, 'infra/scripts', `${name}.sh`), 'utf8');
    const ps1 = readFileSync(join(repoRoot, 'infra/scripts', `${name}.ps1`), 'utf8');
    expect(externalCalls(sh).length).toBeGreaterThan(0);
    expect(externalCalls(ps1)).toEqual(externalCalls(sh));
  });

  it.each(scripts)('%s.ps1 has balanced braces, brackets and parentheses and stops on errors', (name) => {
    const ps1 = readFileSync(join(repoRoot, 'infra/scripts', `${name}.ps1`), 'utf8');
    expect(ps1).toMatch(/^\$ErrorActionPreference = 'Stop'$/m);
    // Strings and comments removed, the brackets must pair up (a cheap stand-in for a parser).
    const code = ps1
      .split('\n')
      .map((l) => l.replace(/^\s*#.*$/, ''))
      .join('\n')
      .replace(/'[^']*'/g, "''")
      .replace(/"(?:`.|[^"`])*"/g, '""');
    const stack: string[] = [];
    const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
    for (const ch of code) {
      if ('([{'.includes(ch)) stack.push(ch);
      else if (ch in pairs) expect(stack.pop(), `${name}.ps1: unbalanced ${ch}`).toBe(pairs[ch]);
    }
    expect(stack).toEqual([]);
  });
});
