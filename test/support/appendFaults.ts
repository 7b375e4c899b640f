import type { AppendBlobClient, ContainerClient } from '@azure/storage-blob';

/**
 * The same container, whose first Append Block lands and then fails with `answer()` instead of its answer: as when
 * the SDK retries an Append Block whose response was lost (the block is there, the retry meets 412).
 */
export function losingFirstAppendAnswer(real: ContainerClient, answer: () => Error): { container: ContainerClient; dropped(): number } {
  let dropped = 0;
  const container = new Proxy(real, {
    get(target, property) {
      if (property !== 'getAppendBlobClient') return Reflect.get(target, property, target);
      return (blobName: string) => {
        const blob = target.getAppendBlobClient(blobName);
        return new Proxy(blob, {
          get(inner, key) {
            const member = Reflect.get(inner, key, inner);
            if (key !== 'appendBlock' || dropped > 0) return typeof member === 'function' ? member.bind(inner) : member;
            return async (...args: Parameters<AppendBlobClient['appendBlock']>) => {
              await inner.appendBlock(...args);
              dropped += 1;
              throw answer();
            };
          },
        });
      };
    },
  });
  return { container, dropped: () => dropped };
}
