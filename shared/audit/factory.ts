import type { TokenCredential } from '@azure/identity';
import { createAuditLog, type AuditLog, type CreateAuditLogOptions } from './log.js';
import { auditContainerFromSettings, auditSettingsFrom } from './settings.js';

/**
 * Builds the audit log from settings (`auditContainerFromSettings` plus `AUDIT_SHARDS`); explicit options win.
 * Makes no request. Keep one per process.
 */
export function auditLogFromSettings(
  env: Readonly<Record<string, string | undefined>>,
  options: Omit<CreateAuditLogOptions, 'containerClient'> & { credential?: TokenCredential } = {},
): AuditLog {
  const { credential, ...logOptions } = options;
  const settings = auditSettingsFrom(env);
  const containerClient = auditContainerFromSettings(env, credential ? { credential } : {});
  return createAuditLog({ ...(settings.shards === undefined ? {} : { shards: settings.shards }), ...logOptions, containerClient });
}
