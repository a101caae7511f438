// The chaos suite (`npm run test:chaos`): separate from `npm test`, since it kills processes
// and cuts connections for minutes. See test/chaos/README.md.
const base = require('../../jest.config.js').projects[0];
module.exports = {
  ...base,
  rootDir: require('node:path').resolve(__dirname, '../..'),
  displayName: 'chaos',
  testMatch: ['<rootDir>/test/chaos/**/*.chaos-spec.ts'],
};
