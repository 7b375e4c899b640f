import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // forks, not threads: emulators and Azurite run as child processes and in-process servers,
    // and NODE_EXTRA_CA_CERTS-style process state must not leak between files.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
