import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relayInstanceId } from '../../shared/orchestrations/names.js';
import { newValue, startE2E, type E2E } from './support.js';

// What an operator sees of one relay with a failing target, through the local stack's real endpoints: the metrics
// endpoint (a real HTTP scrape of `metrics.url`) counts each outcome by status and target, and the log has one
// summary line for the relay plus one line per failed delivery, with hints, and no per-delivery info lines.

let e2e: E2E;
const WAIT = 90_000;

beforeAll(async () => {
  e2e = await startE2E();
});

afterAll(async () => {
  await e2e?.close();
});

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses the Prometheus text format (one sample per line; `#` lines are help and type). */
function parseScrape(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
      if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
      const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
      return { name: m[1]!, labels, value: Number(m[3]) };
    });
}

function total(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

async function adminFault(rule: unknown): Promise<void> {
  const response = await fetch(`${e2e.stack.info.keyVault.adminUrl}/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(rule),
  });
  expect(response.status).toBeLessThan(300);
}

describe('metrics and logs of a relay with a failing target', () => {
  let relayId: string;
  let value: string;
  let scrape: string;

  beforeAll(async () => {
    // fabrikam refuses the relay (403 on every call); contoso throttles its first write once (waited out in the call).
    await adminFault({ vault: 'fabrikam', effect: { kind: 'forbidden', innerCode: 'ForbiddenByRbac' } });
    await adminFault({ vault: 'contoso', operation: 'setSecret', times: 1, effect: { kind: 'throttle', retryAfterInSeconds: 1 } });
    value = e2e.remember(newValue('app-metrics'));
    const written = await e2e.vault('platform').setSecret('app-metrics', value);
    relayId = relayInstanceId('platform', 'app-metrics', written.properties.version!);
    const run = await e2e.stack.host.waitForInstance(relayId, WAIT);
    expect(run.runtimeStatus).toBe('Completed');
    expect((run.output as { counts: Record<string, number> }).counts).toEqual({ Created: 2, FailedAccessDenied: 1 });
    const response = await fetch(e2e.stack.info.metrics.url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    scrape = await response.text();
    e2e.stack.keyVault.clearFaults();
  }, WAIT + 30_000);

  it('the metrics endpoint counts each delivery by status and target, times each, and names the throttled endpoint', () => {
    const samples = parseScrape(scrape);
    const deliveries = 'secret_relay_deliveries_total';
    expect(total(samples, deliveries, { status: 'Created', target_kind: 'keyVault', target_id: 'contoso' })).toBe(1);
    expect(total(samples, deliveries, { status: 'Created', target_kind: 'kubernetes', target_id: 'edge-1-apps' })).toBe(1);
    expect(total(samples, deliveries, { status: 'FailedAccessDenied', target_kind: 'keyVault', target_id: 'fabrikam' })).toBe(1);
    expect(total(samples, deliveries)).toBe(3);
    // One attempt per delivery: the 403 is final, the 429 was waited out inside the write.
    expect(total(samples, 'secret_relay_delivery_duration_count')).toBe(3);
    expect(total(samples, 'secret_relay_delivery_duration_count', { status: 'FailedAccessDenied', target_kind: 'keyVault' })).toBe(1);
    expect(total(samples, 'secret_relay_event_to_converged_count', { source_id: 'platform', ok: 'false' })).toBe(1);
    const contosoHost = new URL(e2e.stack.info.keyVault.vaults.contoso!).host;
    expect(total(samples, 'secret_relay_throttled_total', { endpoint: contosoHost })).toBe(1);
  });

  it('the scrape holds no secret value and no fingerprint', () => {
    expect(scrape).not.toContain(value);
    expect(scrape).not.toMatch(/hmac-sha256/);
  });

  it('the log has one summary line for the relay, the failed delivery with its hint, and no per-delivery info lines', () => {
    const hostEntries = e2e.logs.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { level: string; message: string });
    const summaries = hostEntries.filter((entry) => entry.message.startsWith(`relay ${relayId}: `));
    expect(summaries).toHaveLength(1);
    expect(summaries[0]!.level).toBe('warning');
    // The failure's cause (what the target answered) comes before the hint.
    expect(summaries[0]!.message).toMatch(
      /3 deliveries: 2 Created, 1 FailedAccessDenied; 1 failed: fabrikam FailedAccessDenied \(access-denied\): [^—]*Key Vault answered 403 Forbidden — Grant the relay identity/,
    );

    const mine = e2e.logs.filter((line) => line.includes('app-metrics@'));
    const deliveryLines = mine.filter((line) => line.includes('[relay] delivery '));
    // Exactly the failure, at error level (not retryable), with its hint; successes are below the console's level.
    expect(deliveryLines).toHaveLength(1);
    expect(deliveryLines[0]).toMatch(/^\[error\] \[relay\] delivery platform\/app-metrics@\w+ → fabrikam .*: FailedAccessDenied \(access-denied\).*; hint: /);
    // Nothing about this relay below warning except its start.
    const info = hostEntries.filter((entry) => entry.message.includes(relayId) && entry.level !== 'warning' && entry.level !== 'error');
    expect(info.every((entry) => /Started orchestration instance|started: relay|completed/.test(entry.message))).toBe(true);
    expect(hostEntries.some((entry) => entry.level === 'debug' || entry.level === 'trace')).toBe(false);
  });

  it('nothing the test wrote leaked into logs, responses, durable history or blobs', async () => {
    const { leaks } = await e2e.scanForLeaks();
    expect(leaks).toEqual([]);
  });
});
