/**
 * References that travel through orchestrations, activities and audit records in place of values.
 * Nothing here may ever hold a secret value.
 */

/** One version of a secret in a configured source vault. */
export interface SecretVersionRef {
  /** Source id from the config. */
  readonly sourceId: string;
  /** Vault URL of the source, e.g. `https://platform.vault.azure.net`. */
  readonly vaultUrl: string;
  readonly name: string;
  /** 32-hex Key Vault version id. */
  readonly version: string;
}

/** Where one delivery lands: a target from the config and the resolved name (and key, for Kubernetes). */
export interface Placement {
  /** Key Vault secret name, or Kubernetes Secret name. */
  readonly name: string;
  /** Kubernetes only: the data key inside the Secret. */
  readonly key?: string;
}

/** `<vault host>/<name>`: the owner string recorded in ownership marks. */
export function ownerOf(vaultUrl: string, name: string): string {
  return `${new URL(vaultUrl).host.toLowerCase()}/${name.toLowerCase()}`;
}
