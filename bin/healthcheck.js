#!/usr/bin/env node
'use strict';
// The image's HEALTHCHECK, for every role. The webserver is healthy when GET /api/v1/health
// answers 200 (database reachable); a scheduler or worker with SWARMFLOW_METRICS_PORT set when
// its metrics endpoint answers; otherwise a running process is a healthy one (Swarm restarts
// a process that exits). The role is read from the container's main process (tini's child).
const fs = require('node:fs');
const http = require('node:http');

function role() {
  try {
    const args = fs.readFileSync('/proc/1/cmdline', 'utf8').split('\0');
    return ['webserver', 'scheduler', 'worker', 'standalone'].find((r) => args.includes(r)) ?? null;
  } catch {
    return null;
  }
}

function probe(port, path) {
  const req = http.get({ host: '127.0.0.1', port, path, timeout: 4000 }, (res) => {
    res.resume();
    process.exit(res.statusCode === 200 ? 0 : 1);
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (err) => {
    process.stderr.write(`healthcheck: ${path} on port ${port}: ${err.message}\n`);
    process.exit(1);
  });
}

const current = role();
if (current === 'webserver' || current === 'standalone') probe(Number(process.env.SWARMFLOW_WEB_PORT || 8080), '/api/v1/health');
else if (process.env.SWARMFLOW_METRICS_PORT) probe(Number(process.env.SWARMFLOW_METRICS_PORT), '/metrics');
else process.exit(0);
