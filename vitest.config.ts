import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Builds dist/ once per run (when stale), before any test file starts.
    globalSetup: ["test/global-setup.ts"],
    // Two cores: component and topology tests spawn processes of their own.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
