#!/usr/bin/env node
'use strict';
// `npm run build:native` (part of `npm run build`): compiles spawner.c to dist/native/sf-spawner
// with `$CC` (default `cc`). Without a C compiler it says so and exits 0: runProcess then
// uses Node's spawn. Skips the compile when the binary is newer than the source.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', '..', '..');
const source = path.join(__dirname, 'spawner.c');
const target = path.join(root, 'dist', 'native', 'sf-spawner');
const compiler = process.env.CC || 'cc';

const mtime = (file) => (fs.existsSync(file) ? fs.statSync(file).mtimeMs : -1);
if (mtime(target) >= mtime(source) && mtime(target) >= mtime(__filename)) process.exit(0);

if (spawnSync(compiler, ['--version'], { stdio: 'ignore' }).error) {
  console.log(`build:native: no C compiler (${compiler}); sf-spawner not built, tasks will be started with Node's spawn`);
  process.exit(0);
}
fs.mkdirSync(path.dirname(target), { recursive: true });
// Built aside, then renamed: a running spawner keeps its old file.
const temporary = `${target}.${process.pid}.tmp`;
const result = spawnSync(compiler, ['-O2', '-Wall', '-Wextra', '-std=gnu11', '-o', temporary, source], { stdio: 'inherit' });
if (result.status !== 0) {
  fs.rmSync(temporary, { force: true });
  console.error(`build:native: ${compiler} failed (${result.signal ?? `exit ${result.status}`})`);
  process.exit(1);
}
fs.renameSync(temporary, target);
