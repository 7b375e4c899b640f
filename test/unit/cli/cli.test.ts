import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CliError, EXIT_UNAVAILABLE, runCli } from '../../../cli/index.js';
import type { RegisterCommands } from '../../../cli/index.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** Runs `npx tsx cli/main.ts …` from the repo root as the operator would; never rejects. */
function secretRelay(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('npx', ['tsx', 'cli/main.ts', ...args], { cwd: root, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('secret-relay (child process)', () => {
  it('config check on a good config: exit 0 and the routing summary', async () => {
    const { code, stdout } = await secretRelay('config', 'check', 'test/fixtures/config/good.json');
    expect(code).toBe(0);
    expect(stdout).toContain('OK test/fixtures/config/good.json: 1 source, 2 targets, 1 route');
    expect(stdout).toContain('source platform  https://platform.vault.azure.net');
    expect(stdout).toContain('route db-passwords');
    expect(stdout).toMatch(/→ contoso \[keyVault https:\/\/contoso\.vault\.azure\.net\]\s+name \{customer\}--\{name\}\s+e\.g\. db-password → contoso--db-password/);
    expect(stdout).toMatch(/→ edge-1-apps \[kubernetes edge-1\/apps\]\s+secret db-creds\s+key \{name\|lower\}/);
    expect(stdout).toContain('warning $.routes[0].targets[0].name  TEMPLATE_MAY_BE_TOO_LONG');
  });

  it('config check on a bad config: exit 1 and every problem with its path', async () => {
    const { code, stdout } = await secretRelay('config', 'check', 'test/fixtures/config/bad.json');
    expect(code).toBe(1);
    expect(stdout).toContain('INVALID test/fixtures/config/bad.json: 5 problem(s)');
    for (const line of [
      'error   $.routes[3].targets[0].target  ROUTING_LOOP',
      'error   $.routes[1].targets[0].name  NAME_COLLISION',
      'error   $.routes[2].targets[0].name  TEMPLATE_UNKNOWN_VARIABLE',
      'error   $.routes[2].targets[1].target  UNKNOWN_REFERENCE',
    ]) {
      expect(stdout).toContain(line);
    }
  });

  it('config check --json prints machine-readable problems', async () => {
    const { code, stdout } = await secretRelay('config', 'check', '--json', 'test/fixtures/config/bad.json');
    expect(code).toBe(1);
    const report = JSON.parse(stdout);
    expect(report.ok).toBe(false);
    expect(report.problems).toHaveLength(5);
  });

  it('config check on a missing file and without a file', async () => {
    expect((await secretRelay('config', 'check', 'test/fixtures/config/missing.json')).code).toBe(1);
    const usage = await secretRelay('config', 'check');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('Usage: secret-relay config check <file>');
  });

  it('config schema prints exactly the committed relay.config.schema.json', async () => {
    const { code, stdout } = await secretRelay('config', 'schema');
    expect(code).toBe(0);
    expect(stdout).toBe(readFileSync(new URL('../../../relay.config.schema.json', import.meta.url), 'utf8'));
  });

  it('--help lists the commands', async () => {
    const { code, stdout } = await secretRelay('--help');
    expect(code).toBe(0);
    expect(stdout).toContain('config check');
    expect(stdout).toContain('config schema');
  });

  it('starts with a node shebang (the bin)', () => {
    expect(readFileSync(new URL('../../../cli/main.ts', import.meta.url), 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });
});

describe('runCli (commander program)', () => {
  const capture = () => {
    const io = { stdout: '', stderr: '', out: (t: string) => void (io.stdout += t), err: (t: string) => void (io.stderr += t) };
    return io;
  };

  it.each<[string[], number, string]>([
    [['audit'], 2, 'Usage: secret-relay audit'],
    [['audit', '--help'], 0, 'verify [options]'],
    [['audit', 'query', '--help'], 0, 'Usage: secret-relay audit query [options]'],
    [['audit', 'query', '--since', '1h'], 2, "unknown option '--since'"],
    [['audit', 'query', '--status', 'Bogus'], 2, "argument 'Bogus' is invalid. Allowed choices are Created, Updated"],
    [['audit', 'query', '--action', 'steal'], 2, 'Allowed choices are deliver, adopt, rotate'],
    [['audit', 'query', '--action', 'deliver', '--status', 'Rotated'], 2, '--status Rotated never occurs with --action deliver; its statuses are Created'],
    [['audit', 'verify', '--from', 'yesterday'], 2, 'not a date/time'],
    [['config', 'schema', 'extra'], 2, 'too many arguments'],
    [['config', 'push', 'test/fixtures/config/good.json'], 2, 'no config account: set --blob-service-uri or --connection-string'],
    [['nope'], 2, "unknown command 'nope'"],
    [[], 2, 'Commands:'],
    [['-h'], 0, 'Commands:'],
  ])('%j → exit %i', async (argv, exit, text) => {
    const io = capture();
    expect(await runCli(argv, io, { env: {} })).toBe(exit);
    expect(io.stdout + io.stderr).toContain(text);
  });

  it('help lists every option with its allowed values, taken from the closed unions', async () => {
    const io = capture();
    await runCli(['audit', 'query', '--help'], io);
    for (const status of ['FailedNotOwned', 'ReconcileCompleted', 'Drifted', 'Rejected', 'PlanFailed']) expect(io.stdout).toContain(`"${status}"`);
    expect(io.stdout).toContain('"reject-event"');
    for (const option of ['--secret', '--vault', '--target', '--from', '--to', '--json', '--connection-string', '--container', '--stack']) {
      expect(io.stdout).toContain(option);
    }
  });

  it('--stack fails at once, exit 3, when there is no stack.json', async () => {
    const io = capture();
    expect(await runCli(['audit', 'verify', '--stack', 'test/fixtures/config/no-such-stack.json'], io, { env: {} })).toBe(EXIT_UNAVAILABLE);
    expect(io.stderr).toBe('secret-relay: the local stack is not running: test/fixtures/config/no-such-stack.json does not exist; start it with `npm start`\n');
  });

  it('registers a command group from one function, and maps a CliError to its exit code', async () => {
    const group: RegisterCommands = (program, ctx) => {
      const demo = program.command('demo');
      demo.command('ok').option('--json').action((options: { json?: boolean }) => {
        ctx.io.out(options.json ? '{}\n' : 'fine\n');
        ctx.exit(1);
      });
      demo.command('down').action(() => {
        throw new CliError(EXIT_UNAVAILABLE, 'the service is down');
      });
    };
    const io = capture();
    expect(await runCli(['demo', 'ok', '--json'], io, { groups: [group] })).toBe(1);
    expect(io.stdout).toBe('{}\n');
    const down = capture();
    expect(await runCli(['demo', 'down'], down, { groups: [group] })).toBe(3);
    expect(down.stderr).toBe('secret-relay: the service is down\n');
  });
});
