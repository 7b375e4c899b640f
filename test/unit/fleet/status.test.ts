import { describe, expect, it } from 'vitest';
import { DRIFT_INFO } from '../../../shared/domain/drift.js';
import { STATUS_INFO } from '../../../shared/domain/statuses.js';
import { placementStatus } from '../../../shared/fleet/status.js';
import type { FleetPlacement, FleetSecret } from '../../../shared/fleet/types.js';
import type { ReconcileReport } from '../../../shared/orchestrations/types.js';

// The hint of one placement's status row (pure): what an operator reads in `status`, the console and the API.

const V = (n: number) => String(n).repeat(32);
const placement = (drift?: FleetPlacement['drift']): FleetPlacement => ({
  routeId: 'r',
  targetId: 'contoso',
  kind: 'keyVault',
  placement: { name: 'app' },
  location: 'contoso:app',
  adopt: false,
  ...(drift ? { drift } : {}),
  heldVersion: V(1),
});
const secret = (p: FleetPlacement): FleetSecret => ({
  sourceId: 'platform',
  vaultUrl: 'https://platform.vault.azure.net',
  name: 'app',
  sourceState: 'enabled',
  createdOn: 1_000,
  currentVersion: V(2),
  tags: {},
  placements: [p],
});
const report = (status: string): Pick<ReconcileReport, 'repairs'> =>
  ({
    repairs: [
      {
        ref: { sourceId: 'platform', vaultUrl: 'https://platform.vault.azure.net', name: 'app', version: V(2) },
        instanceId: 'relay:platform:app:x',
        summary: { ref: {}, planned: 1, counts: {}, ok: false, failed: 1, outcomes: [{ deliveryId: 'r/contoso/app', targetId: 'contoso', status, reason: 'x' }] },
      },
    ],
  }) as unknown as Pick<ReconcileReport, 'repairs'>;

describe('placementStatus hint', () => {
  it('an out-of-sync placement whose latest repair failed shows the failure’s hint, not “nothing to do”', () => {
    const p = placement('version');
    const row = placementStatus(secret(p), p, report('FailedAccessDenied'));
    expect(row.status).toBe('FailedAccessDenied');
    expect(row.hint).toBe(STATUS_INFO.FailedAccessDenied.hint);
    expect(row.hint).not.toBe(DRIFT_INFO.version.hint);
  });

  it('an out-of-sync placement with no failed repair shows its drift kind’s hint', () => {
    const p = placement('version');
    expect(placementStatus(secret(p), p).hint).toBe(DRIFT_INFO.version.hint);
    expect(placementStatus(secret(p), p, report('Updated')).hint).toBe(DRIFT_INFO.version.hint);
  });

  it('an in-sync placement has no hint unless its latest delivery failed', () => {
    const p = placement();
    expect(placementStatus(secret(p), p).hint).toBeNull();
    expect(placementStatus(secret(p), p, report('FailedThrottled')).hint).toBe(STATUS_INFO.FailedThrottled.hint);
  });
});
