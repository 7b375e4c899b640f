import type { TokenCredential } from '@azure/identity';
import { createAuditLog, type AuditLog, type CreateAuditLogOptions } from './log.js';
import { AUDIT_SETTING_NAMES, auditChainSettingsFrom, auditContainerFromSettings, auditSettingsFrom } from './settings.js';

/**
 * Builds the audit log from settings (`auditContainerFromSettings`, `AUDIT_SHARDS`, and with `AUDIT_CHAIN_KEY` a
 * keyed chain sealed into `AUDIT_SEAL_CONTAINER` of the same account); explicit options win. Makes no request. Keep
 * one per process. `onSealError` hears about seals that could not be written (appends never fail for them).
 */
export function auditLogFromSettings(
  env: Readonly<Record<string, string | undefined>>,
  options: Omit<CreateAuditLogOptions, 'containerClient'> & { credential?: TokenCredential; onSealError?: (error: unknown) => void } = {},
): AuditLog {
  const { credential, onSealError, ...logOptions } = options;
  const settings = auditSettingsFrom(env);
  const containerClient = auditContainerFromSettings(env, credential ? { credential } : {});
  const chain = auditChainSettingsFrom(env);
  const keyed = chain
    ? {
        chainKey: chain.chainKey,
        seal: {
          containerClient: auditContainerFromSettings({ ...env, [AUDIT_SETTING_NAMES.container]: chain.sealContainer }, credential ? { credential } : {}),
          intervalInMs: chain.sealIntervalInMs,
          ...(onSealError ? { onError: onSealError } : {}),
        },
      }
    : {};
  return createAuditLog({ ...(settings.shards === undefined ? {} : { shards: settings.shards }), ...keyed, ...logOptions, containerClient });
}
