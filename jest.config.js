// Five projects (STYLE.md): unit (pure, no services), int (real Postgres, RabbitMQ,
// Docker), e2e (CLI and HTTP end to end), browser (the web UI in chromium), swarm (the Docker
// Swarm stack). `npm test` runs them all.
// ts-jest in transpile-only mode: fast, and TypeScript's own decorator metadata. Types are
// checked by `npm run typecheck`. (No native-binary transformers: the package mirror CI uses
// lacks their other-platform builds, which breaks `npm ci`.)
const tsJest = ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json', diagnostics: false }];
const moduleNameMapper = {
  '^@swarmflow/(core|sdk|persistence|messaging|executors|secrets|observability|contracts)$': '<rootDir>/libs/$1/src',
  '^@swarmflow/(core|sdk|persistence|messaging|executors|secrets|observability|contracts)/(.*)$': '<rootDir>/libs/$1/src/$2',
  '^swarmflow$': '<rootDir>/libs/sdk/src',
};
const base = { transform: { '^.+\\.ts$': tsJest }, moduleNameMapper, testEnvironment: 'node', rootDir: __dirname };
module.exports = {
  // A test's timeout guards against a hang; it measures nothing (speed is for benchmarks, which print).
  // Jest's default of 5 s is a speed check in disguise: a test of a second on an idle machine takes
  // several with a few test runs at once on 2 cores. 60 s by default; a test may set more. (A global
  // option: jest refuses it inside a project.)
  testTimeout: 60_000,
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs}/**/*.spec.ts'] },
    { ...base, displayName: 'int', testMatch: ['<rootDir>/{apps,libs}/**/*.int-spec.ts'] },
    { ...base, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'] },
    // The web UI in Debian's chromium through playwright-core (test/browser/support/browser.ts).
    { ...base, displayName: 'browser', testMatch: ['<rootDir>/test/browser/**/*.e2e-spec.ts'] },
    // The Docker Swarm deployment (deploy/swarm): images, stack deploy, redeploy, teardown; a few minutes.
    { ...base, displayName: 'swarm', testMatch: ['<rootDir>/test/swarm/**/*.e2e-spec.ts'] },
  ],
};
