import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderStatusesMarkdown } from '../../../docs/gen-statuses.js';
import { DELIVERY_STATUSES, STATUS_INFO } from '../../../shared/domain/statuses.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const committed = readFileSync(join(repoRoot, 'docs', 'statuses.md'), 'utf8');

describe('docs/statuses.md', () => {
  it('is up to date with shared/domain/statuses.ts (regenerate: npx tsx docs/gen-statuses.ts > docs/statuses.md)', () => {
    expect(committed).toBe(renderStatusesMarkdown());
  });

  it('has one row per status with its retryable flag and operator hint', () => {
    const rows = committed.split('\n').filter((line) => line.startsWith('| `'));
    expect(rows).toHaveLength(DELIVERY_STATUSES.length);
    for (const status of DELIVERY_STATUSES) {
      const row = rows.find((r) => r.startsWith(`| \`${status}\` |`));
      expect(row, status).toBeDefined();
      const cells = row!.split(' | ');
      expect(cells[2]).toBe(STATUS_INFO[status].retryable ? 'yes' : 'no');
      expect(row).toContain(STATUS_INFO[status].hint.replace(/\|/g, '\\|'));
    }
  });
});
