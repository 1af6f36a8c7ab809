// ESM + ts-jest. Type checking is done once by `tsc --noEmit` in the test command,
// so ts-jest only transpiles (tsconfig's isolatedModules) and the suite stays fast.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false }],
  },
  testMatch: ['<rootDir>/internal/**/*.test.ts', '<rootDir>/test/**/*.test.ts', '<rootDir>/cmd/**/*.test.ts', '<rootDir>/api/**/*.test.ts', '<rootDir>/bench/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  setupFiles: ['<rootDir>/test/setup/polyfills.ts'],
  testTimeout: 60000,
  maxWorkers: 2,
};
