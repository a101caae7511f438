/**
 * The gateway's own entry (its image runs `node main.js`; `swarmflow gateway` runs the same).
 * `node main.js health` is the image's HEALTHCHECK: exit 0 when the gateway on
 * SWARMFLOW_GATEWAY_PORT answers its health path.
 */
import * as http from 'node:http';
import { GATEWAY_HEALTH_PATH, startGateway } from './gateway';
import { gatewayConfigFromEnv } from './gateway.config';

export async function runGateway(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const gateway = await startGateway(gatewayConfigFromEnv(env));
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    process.stdout.write(`${new Date().toISOString()} gateway: ${signal}: closing (requests in flight finish)\n`);
    void gateway.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

function health(env: NodeJS.ProcessEnv): void {
  const port = Number(env.SWARMFLOW_GATEWAY_PORT || 8080);
  const req = http.get({ host: '127.0.0.1', port, path: GATEWAY_HEALTH_PATH, timeout: 4000 }, (res) => {
    res.resume();
    process.exit(res.statusCode === 200 ? 0 : 1);
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (err) => { process.stderr.write(`gateway health: ${err.message}\n`); process.exit(1); });
}

if (require.main === module) {
  if (process.argv[2] === 'health') health(process.env);
  else runGateway().catch((err: Error) => { process.stderr.write(`gateway: ${err.message}\n`); process.exit(1); });
}
