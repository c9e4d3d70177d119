import path from 'path';
import { defineConfig } from 'vitest/config';

const harness = path.resolve(__dirname, 'test/harness');

// 2-core machines: real models run in these tests, so keep parallelism modest and timeouts honest.
export default defineConfig({
  resolve: {
    // @scrypted/sdk's CommonJS build only loads through a bundler (see test/harness/scrypted-sdk.cjs).
    alias: [
      { find: /^@scrypted\/sdk$/, replacement: path.join(harness, 'scrypted-sdk.cjs') },
      { find: /^@scrypted\/sdk\/storage-settings$/, replacement: path.join(harness, 'scrypted-sdk-storage-settings.cjs') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    server: { deps: { external: [/test\/harness\/.*\.cjs$/, /node_modules/] } },
  },
});
