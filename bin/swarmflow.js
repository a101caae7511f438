#!/usr/bin/env node
'use strict';
// Entry point of the `swarmflow` command: runs the compiled CLI (`npm run build`).
const path = require('node:path');
const fs = require('node:fs');
const entry = path.join(__dirname, '..', 'dist', 'apps', 'cli', 'src', 'main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('swarmflow is not built yet: run `npm run build` (or `npm start`) in ' + path.dirname(__dirname) + '\n');
  process.exit(2);
}
require(entry);
