import type { ContainerClient } from '@azure/storage-blob';
import type { ReconcileReport } from '../orchestrations/types.js';

/**
 * The latest drift report in a reports container: blob names are `drift/YYYY/MM/DD/<start time>-<instance>.json`, so
 * the greatest name of the newest day is the latest run. Reads at most two day listings (today and yesterday, UTC)
 * and one blob. Permission: Storage Blob Data Reader on the container. Undefined when none (or no container).
 */
export async function latestDriftReportIn(container: ContainerClient, now: Date = new Date()): Promise<(ReconcileReport & { reportBlob: string }) | undefined> {
  for (const day of [now.getTime(), now.getTime() - 86_400_000]) {
    const prefix = `drift/${new Date(day).toISOString().slice(0, 10).replace(/-/g, '/')}/`;
    let latest: string | undefined;
    try {
      for await (const blob of container.listBlobsFlat({ prefix })) if (!latest || blob.name > latest) latest = blob.name;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      throw error;
    }
    if (!latest) continue;
    const body = await container.getBlockBlobClient(latest).downloadToBuffer();
    return { ...(JSON.parse(body.toString('utf8')) as ReconcileReport), reportBlob: `${container.containerName}/${latest}` };
  }
  return undefined;
}
