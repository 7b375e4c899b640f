import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretClient } from '@azure/keyvault-secrets';
import { readFileSync } from 'node:fs';
import { startStack } from './local/stack.js';
import { runCli } from './cli/router.js';
import { relayInstanceId } from './shared/orchestrations/names.js';

const stateDir = mkdtempSync(join(tmpdir(), 'relay-demo-cli-'));
for (const level of ['info', 'warn', 'log'] as const) console[level] = () => undefined;
const stack = await startStack({ stateDir, port: 0, log: () => undefined, postgres: false } as never);
const file = join(stateDir, 'stack.json');
const ca = readFileSync(stack.info.keyVault.caCertPath, 'utf8');
const cred = { getToken: async () => ({ token: 'x', expiresOnTimestamp: Date.now() + 3_600_000 }) };
const vault = (n: string) => new SecretClient(stack.info.keyVault.vaults[n]!, cred, { tlsOptions: { ca }, disableChallengeResourceVerification: true });
const out = (label: string, text: string, code: number) => process.stderr.write(`\n===== ${label}\n${text}[exit ${code}]\n`);
const cli = async (args: string[]) => {
  let text = '';
  const io = { out: (t: string) => void (text += t), err: (t: string) => void (text += t) };
  const code = await runCli([...args, '--stack', file], io);
  out(`$ secret-relay ${args.join(' ')} --stack`, text, code);
};
{
  let text = '';
  const io = { out: (t: string) => void (text += t), err: (t: string) => void (text += t) };
  const code = await runCli(['--help'], io);
  out('$ secret-relay --help', text, code);
  for (const c of ['status', 'drift']) {
    let t2 = '';
    const code2 = await runCli([c, '--help'], { out: (t: string) => void (t2 += t), err: (t: string) => void (t2 += t) });
    out(`$ secret-relay ${c} --help`, t2, code2);
  }
}
for (const name of ['cluster-admin-password', 'bmc-rack1', 'bmc-rack2']) {
  const s = await vault('platform').setSecret(name, `demo-${name}-${Math.random()}`);
  await stack.host.waitForInstance(relayInstanceId('platform', name, s.properties.version!), 60_000);
}
await cli(['status']);
await new Promise((r) => setTimeout(r, 1100));
stack.keyVault.createSecret('platform', 'bmc-rack2', `silent-${Math.random()}`, { emitEvent: false });
await vault('contoso').setSecret('cluster-admin-password', `foreign-${Math.random()}`);
await cli(['status', '--out-of-sync']);
await stack.host.invokeTimer('reconcileTimer');
await stack.host.waitForInstance('reconcile', 60_000);
await cli(['drift']);
await cli(['drift', '--last', '--json']);
await cli(['status']);
await stack.close();
