import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PINNED_DURABLE_FUNCTIONS_VERSION, compileRoute, verifyDurableInternals } from '../../local/host/index.js';
import { readJournals } from '../../local/host/durable/journal.js';
import { StartLog, readStartLog } from '../../local/host/durable/startLog.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'host-internals-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('durable-functions internals self-test', () => {
  it('finds the exact pinned version and every internal field the engine reads', () => {
    expect(() => verifyDurableInternals()).not.toThrow();
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };
    expect(pkg.dependencies['durable-functions']).toBe(PINNED_DURABLE_FUNCTIONS_VERSION);
  });
});

describe('journal', () => {
  it('drops a torn trailing record and keeps the complete ones', async () => {
    const file = path.join(dir, 'x.jsonl');
    writeFileSync(file, `${JSON.stringify({ kind: 'a' })}\n${JSON.stringify({ kind: 'b' })}\n{"kind":"tor`);
    const [journal] = await readJournals(dir);
    expect(journal?.records).toEqual([{ kind: 'a' }, { kind: 'b' }]);
    expect(readFileSync(file, 'utf8')).toBe(`${JSON.stringify({ kind: 'a' })}\n${JSON.stringify({ kind: 'b' })}\n`);
  });
});

describe('start log', () => {
  it('keeps a segment until every start in it is in its own journal, deleting segments oldest first', async () => {
    const logDir = mkdtempSync(path.join(dir, 'starts-'));
    const log = new StartLog(logDir, { recordsPerSegment: 2 });
    const entries = [];
    for (let i = 0; i < 5; i++) entries.push(await log.appendStart({ kind: 'start', instanceId: `i${i}` }));
    expect((await readStartLog(logDir)).files).toHaveLength(3);
    // the second segment's starts are written, but the first segment still holds an unwritten one
    entries[2]!.written();
    entries[3]!.written();
    entries[0]!.written();
    await log.close();
    expect((await readStartLog(logDir)).files).toHaveLength(3);
    entries[1]!.written();
    await log.close();
    const left = await readStartLog(logDir);
    expect(left.records).toEqual([{ kind: 'start', instanceId: 'i4' }]);
    expect(entries.map((e) => e.live)).toEqual([false, false, false, false, true]);
    expect(left.nextSegment).toBe(3);
  });
});

describe('route templates', () => {
  it.each([
    ['users/{id}', 'users/42', { id: '42' }],
    ['users/{id}', 'USERS/42', { id: '42' }],
    ['items/{id?}', 'items', {}],
    ['items/{id:int}', 'items/7', { id: '7' }],
    ['files/{*path}', 'files/a/b/c', { path: 'a/b/c' }],
    ['rotations/{name}', 'rotations/db%20pass', { name: 'db pass' }],
  ])('%s matches %s', (template, requestPath, params) => {
    expect(compileRoute(template).match(requestPath)).toEqual(params);
  });

  it.each([
    ['users/{id}', 'users'],
    ['users/{id}', 'users/1/2'],
    ['items/{id:int}', 'items/x'],
    ['a/b', 'a/c'],
  ])('%s does not match %s', (template, requestPath) => {
    expect(compileRoute(template).match(requestPath)).toBeUndefined();
  });
});
