/**
 * Watch streams (`?watch=1`) as the API server serves them: newline-delimited JSON events `{"type","object"}` on a
 * chunked 200 answer. Without a resourceVersion (or with `0`) the stream starts with an ADDED event per existing
 * object; with one it replays the changes after it (410 Expired as an ERROR event when the history no longer reaches
 * back). `allowWatchBookmarks` adds BOOKMARK events, `sendInitialEvents` ends the initial events with a bookmark
 * annotated `k8s.io/initial-events-end`, and `timeoutSeconds` ends the stream.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { compileFieldSelector, compileLabelSelector } from './selectors.js';
import { tooOldResourceVersion } from './status.js';
import { RESOURCE_DEFS, type K8sObject, type ObjectStore, type WatchEvent } from './store.js';
import { toTable } from './table.js';
import type { Resource } from './types.js';

export interface WatchRequest {
  resource: Resource;
  namespace?: string;
  labelSelector: string | null;
  fieldSelector: string | null;
  resourceVersion: string | null;
  allowWatchBookmarks: boolean;
  sendInitialEvents: boolean;
  timeoutSeconds?: number;
  table: boolean;
}

/** Serves one watch until the client goes away, the timeout passes, or the server closes. */
export function serveWatch(req: IncomingMessage, res: ServerResponse, store: ObjectStore, watch: WatchRequest, bookmarkIntervalInMs: number): void {
  const def = RESOURCE_DEFS[watch.resource];
  const byLabel = compileLabelSelector(watch.labelSelector);
  const byField = compileFieldSelector(watch.fieldSelector, def.fieldSelectors);
  const matches = (object: K8sObject): boolean =>
    object.kind === def.kind &&
    (watch.namespace === undefined || object.metadata.namespace === watch.namespace) &&
    byLabel(object.metadata.labels) &&
    byField(object);

  let sentVersion = 0;
  const pending: WatchEvent[] = [];
  let live = false;
  const write = (type: string, object: unknown): void => {
    res.write(`${JSON.stringify({ type, object })}\n`);
  };
  const render = (object: K8sObject): unknown => (watch.table ? toTable(watch.resource, [object], object.metadata.resourceVersion ?? store.resourceVersion) : object);
  const deliver = (event: WatchEvent): void => {
    if (event.resource !== watch.resource || event.resourceVersion <= sentVersion) return;
    const now = matches(event.object);
    // As the watch cache does for a filtered watch: entering the selector is ADDED, leaving it is DELETED.
    const before = event.type === 'MODIFIED' && event.previous ? matches(event.previous) : event.type !== 'ADDED';
    let type: string = event.type;
    if (event.type === 'MODIFIED' && now && !before) type = 'ADDED';
    else if (event.type === 'MODIFIED' && !now && before) type = 'DELETED';
    else if (!now) return;
    sentVersion = event.resourceVersion;
    write(type, render(event.object));
  };
  const unsubscribe = store.subscribe((event) => (live ? deliver(event) : pending.push(event)));
  const timers: NodeJS.Timeout[] = [];
  const stop = (): void => {
    unsubscribe();
    for (const t of timers) clearTimeout(t);
    if (!res.writableEnded) res.end();
  };
  req.on('close', stop);
  res.on('close', stop);

  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private', 'transfer-encoding': 'chunked' });
  const bookmark = (annotations?: Record<string, string>): void => {
    write('BOOKMARK', { kind: def.kind, apiVersion: def.group ? `${def.group}/v1` : 'v1', metadata: { resourceVersion: store.resourceVersion, ...(annotations ? { annotations } : {}) } });
  };

  const rv = watch.resourceVersion;
  const fromNow = rv === null || rv === '' || rv === '0';
  if (fromNow || watch.sendInitialEvents) {
    const snapshot = Number(store.resourceVersion);
    for (const object of store.list(watch.resource, watch.namespace, { labelSelector: watch.labelSelector, fieldSelector: watch.fieldSelector })) {
      write('ADDED', render(object));
    }
    sentVersion = snapshot;
    if (watch.sendInitialEvents && watch.allowWatchBookmarks) bookmark({ 'k8s.io/initial-events-end': 'true' });
  } else {
    const requested = Number(rv);
    const changes = Number.isFinite(requested) ? store.changesSince(requested) : 'expired';
    if (changes === 'expired') {
      write('ERROR', tooOldResourceVersion(Number.isFinite(requested) ? requested : 0, store.oldestResumableVersion + 1));
      stop();
      return;
    }
    sentVersion = requested;
    for (const event of changes) deliver(event);
  }
  live = true;
  for (const event of pending.splice(0)) deliver(event);

  if (watch.allowWatchBookmarks) {
    const tick = (): void => {
      bookmark();
      timers[0] = setTimeout(tick, bookmarkIntervalInMs);
    };
    timers[0] = setTimeout(tick, bookmarkIntervalInMs);
  }
  if (watch.timeoutSeconds && watch.timeoutSeconds > 0) timers.push(setTimeout(stop, watch.timeoutSeconds * 1000));
}
