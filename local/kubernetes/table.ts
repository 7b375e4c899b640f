/**
 * Server-side printing: the `meta.k8s.io/v1` `Table` that `kubectl get` asks for
 * (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), with the columns the real API server prints.
 */
import type { K8sObject } from './store.js';
import type { Resource } from './types.js';

interface Column {
  name: string;
  type: 'string' | 'integer';
  format: string;
  description: string;
  priority: number;
  cell: (object: K8sObject, now: number) => string | number;
}

/** Ages as kubectl prints them (`HumanDuration`): 45s, 5m3s, 3h, 2d4h, 30d, 2y. */
export function humanAge(createdIso: string | undefined, now: number): string {
  if (!createdIso) return '<unknown>';
  const seconds = Math.max(0, Math.floor((now - Date.parse(createdIso)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (days < 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (days < 365 * 2) return `${days}d`;
  return `${Math.floor(days / 365)}y`;
}

const nameColumn: Column = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description: 'Name must be unique within a namespace.',
  priority: 0,
  cell: (o) => o.metadata.name ?? '',
};
const ageColumn: Column = {
  name: 'Age',
  type: 'string',
  format: '',
  description: 'CreationTimestamp is a timestamp representing the server time when this object was created.',
  priority: 0,
  cell: (o, now) => humanAge(o.metadata.creationTimestamp, now),
};

const num = (value: unknown): number => (typeof value === 'number' ? value : 0);

const COLUMNS: Partial<Record<Resource, Column[]>> = {
  secrets: [
    nameColumn,
    { name: 'Type', type: 'string', format: '', description: 'Used to facilitate programmatic handling of secret data.', priority: 0, cell: (o) => String(o.type ?? '') },
    { name: 'Data', type: 'string', format: '', description: 'Data contains the secret data.', priority: 0, cell: (o) => Object.keys((o.data as object | undefined) ?? {}).length },
    ageColumn,
  ],
  configmaps: [
    nameColumn,
    { name: 'Data', type: 'integer', format: '', description: 'Data contains the configuration data.', priority: 0, cell: (o) => Object.keys((o.data as object | undefined) ?? {}).length + Object.keys((o.binaryData as object | undefined) ?? {}).length },
    ageColumn,
  ],
  events: [
    { name: 'Last Seen', type: 'string', format: '', description: 'Time when this Event was last observed.', priority: 0, cell: (o, now) => humanAge(String(o.lastTimestamp ?? o.eventTime ?? o.metadata.creationTimestamp ?? ''), now) },
    { name: 'Type', type: 'string', format: '', description: 'Type of this event (Normal, Warning), new types could be added in the future.', priority: 0, cell: (o) => String(o.type ?? '') },
    { name: 'Reason', type: 'string', format: '', description: 'This should be a short, machine understandable string that gives the reason for the transition into the object\'s current status.', priority: 0, cell: (o) => String(o.reason ?? '') },
    {
      name: 'Object',
      type: 'string',
      format: '',
      description: 'The object that this event is about.',
      priority: 0,
      cell: (o) => {
        const involved = (o.involvedObject ?? {}) as { kind?: string; name?: string };
        return `${String(involved.kind ?? '').toLowerCase()}/${involved.name ?? ''}`;
      },
    },
    { name: 'Message', type: 'string', format: '', description: 'A human-readable description of the status of this operation.', priority: 0, cell: (o) => String(o.message ?? '') },
  ],
  namespaces: [
    nameColumn,
    { name: 'Status', type: 'string', format: '', description: 'The status of the namespace', priority: 0, cell: (o) => String((o.status as { phase?: string } | undefined)?.phase ?? 'Active') },
    ageColumn,
  ],
  deployments: [
    nameColumn,
    {
      name: 'Ready',
      type: 'string',
      format: '',
      description: 'Number of the pod with ready state',
      priority: 0,
      cell: (o) => `${num((o.status as Record<string, unknown> | undefined)?.readyReplicas)}/${num((o.spec as Record<string, unknown> | undefined)?.replicas)}`,
    },
    { name: 'Up-to-date', type: 'integer', format: '', description: 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.', priority: 0, cell: (o) => num((o.status as Record<string, unknown> | undefined)?.updatedReplicas) },
    { name: 'Available', type: 'integer', format: '', description: 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.', priority: 0, cell: (o) => num((o.status as Record<string, unknown> | undefined)?.availableReplicas) },
    ageColumn,
  ],
};

/** Builds the Table for a list (or a single object) of one resource. */
export function toTable(resource: Resource, objects: readonly K8sObject[], resourceVersion: string, now = Date.now()): Record<string, unknown> {
  const columns = COLUMNS[resource] ?? [nameColumn, ageColumn];
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: columns.map(({ name, type, format, description, priority }) => ({ name, type, format, description, priority })),
    rows: objects.map((o) => ({
      cells: columns.map((c) => c.cell(o, now)),
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}
