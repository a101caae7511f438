import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import path from 'node:path';
import { Logger } from '@nestjs/common';
import type { Command } from 'commander';
import { MemoryBroker } from '@swarmflow/messaging';
import {
  metricsAccessFromEnv, metricsServerConfigFromEnv, processMetrics, startMetricsServer, type MetricsAccess, type MetricsServerConfig,
} from '@swarmflow/observability';
import { Database, EmbeddedPostgres, privateDir, Repositories } from '@swarmflow/persistence';
import { installationOf } from '@swarmflow/executors';
import { ClusterKey } from '@swarmflow/secrets';
import { schedulerConfigFromEnv } from '../../scheduler/src/config';
import { startScheduler } from '../../scheduler/src/main';
import { autoscalerConfigFromEnv } from '../../autoscaler/src/autoscaler.config';
import { startAutoscaler } from '../../autoscaler/src/main';
import { Scheduler } from '../../scheduler/src/scheduler';
import { requeueLostTaskMessages } from '../../scheduler/src/services/requeue-lost';
import { createWebserver } from '../../webserver/src/webserver';
import { startWebserver } from '../../webserver/src/main';
import {
  DEFAULT_WEB_HOST, DEFAULT_WEB_PORT, loadWebserverConfig, nestLogLevels, readAuditRetention, readLogArchive, readLogLevel, readPublicUrl,
} from '../../webserver/src/webserver.config';
import { ensureStandaloneCredentials } from '../../webserver/src/auth/bootstrap';
import { startWorker } from '../../worker/src/start-worker';
import { discoverNvidiaGpus } from '../../worker/src/worker.config';
import { runWorkerProcess } from '../../worker/src/main';
import { runGateway } from '../../gateway/src/main';

const METRICS_HELP = 'SWARMFLOW_METRICS_PORT: serve Prometheus metrics at /metrics on this port (default: none), SWARMFLOW_METRICS_HOST\n' +
  '(default 127.0.0.1; 0.0.0.0 in a container), SWARMFLOW_METRICS_TOKEN (bearer token the endpoint then requires)';

/**
 * A standalone's installation (container label `swarmflow.installation`), from its home
 * folder: two standalones on one Docker engine, or a cluster without a broker prefix beside
 * one, never adopt or reap each other's containers. The same home keeps it across restarts.
 */
export function standaloneInstallation(home: string): string {
  return installationOf(`standalone-${createHash('sha256').update(path.resolve(home)).digest('hex').slice(0, 8)}.`);
}

/** The standalone home folder: embedded database, and where the CLI finds the server's URL. */
export function swarmflowHome(): string {
  return process.env.SWARMFLOW_HOME ?? path.join(homedir(), '.swarmflow');
}

/**
 * The cluster key of a standalone server: SWARMFLOW_CLUSTER_KEY or SWARMFLOW_CLUSTER_KEY_FILE
 * when set, else `<home>/cluster.key`, created (mode 0600) on first start. Deleting that
 * file makes the stored secrets unreadable.
 * @throws ConfigError naming the variable or the file when the key is malformed.
 */
export function loadClusterKey(env: NodeJS.ProcessEnv, home?: string): { key: ClusterKey; source: string } {
  const fromEnv = ClusterKey.fromEnv(env);
  if (fromEnv) return { key: fromEnv, source: env.SWARMFLOW_CLUSTER_KEY_FILE?.trim() ? 'SWARMFLOW_CLUSTER_KEY_FILE' : 'SWARMFLOW_CLUSTER_KEY' };
  const file = path.join(home ?? env.SWARMFLOW_HOME ?? path.join(homedir(), '.swarmflow'), 'cluster.key');
  return { key: ClusterKey.loadOrCreate(file), source: file };
}

/** What a running standalone server holds, for the components started after it (and tests). */
export interface StandaloneServer {
  /** The API's base URL, e.g. http://127.0.0.1:8080. */
  url: string;
  home: string;
  repos: Repositories;
  /** Encrypts secret variables at rest and in task messages. */
  clusterKey: ClusterKey;
  stop(): Promise<void>;
}

/** The package's root: the nearest folder above this file with swarmflow's package.json (source or dist layout). */
function packageRoot(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    try {
      if (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).name === 'swarmflow') return dir;
    } catch {
      // no package.json here: keep climbing
    }
  }
  return process.cwd();
}

/** The repository's example DAGs, the standalone default. */
const EXAMPLE_DAGS = path.join(packageRoot(), 'examples', 'dags');

/** Fails the command with one clear line (exit 2), never a stack trace, for known setup errors. */
function fail(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`swarmflow: ${message}\n`);
  process.exit(2);
}

/** How long standalone waits for the first parse of the DAGs folder before it opens the API anyway. */
const FIRST_PARSE_WAIT_MS = 5_000;

function onSignals(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) {
      process.stderr.write(`${signal} again: exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    process.stderr.write(`${signal}: shutting down (running tasks get their grace period; send it again to exit now)\n`);
    stop().then(() => process.exit(0), (err) => fail(err));
  };
  process.on('SIGINT', () => handler('SIGINT'));
  process.on('SIGTERM', () => handler('SIGTERM'));
}

function ownsStateFile(file: string): boolean {
  try {
    return JSON.parse(readFileSync(file, 'utf8')).pid === process.pid;
  } catch {
    return false;
  }
}

interface StandaloneOptions {
  dags?: string;
  port?: string;
  host?: string;
  concurrency: string;
  home?: string;
}

/** Standalone listens on the loopback interface unless told otherwise: it is a one-machine setup. */
const STANDALONE_HOST = '127.0.0.1';

/**
 * A server setting's default as help texts show it: the value of `variable` when set (a
 * blank one counts as unset, as the commands read it), else `fallback`.
 */
export function envDefault(env: NodeJS.ProcessEnv, variable: string, fallback: string | number): string {
  const set = env[variable]?.trim();
  return set ? `${set}, from $${variable}` : `$${variable}, else ${fallback}`;
}

/**
 * Where standalone's API listens: `--port` / `--host` when given, else SWARMFLOW_WEB_PORT /
 * SWARMFLOW_WEB_HOST when set (blank = unset, as for the webserver), else 8080 on
 * 127.0.0.1. The help texts show the same defaults ({@link envDefault}).
 * @throws Error naming the option or the variable the bad port came from.
 */
export function standaloneAddress(opts: { port?: string; host?: string }, env: NodeJS.ProcessEnv): { port: number; host: string } {
  const fromEnv = env.SWARMFLOW_WEB_PORT?.trim();
  const [rawPort, source] = opts.port !== undefined ? [opts.port, '--port']
    : fromEnv ? [fromEnv, 'SWARMFLOW_WEB_PORT'] : [String(DEFAULT_WEB_PORT), 'the default'];
  const port = Number(rawPort);
  if (!/^\d+$/.test(rawPort.trim()) || port > 65535) {
    const fix = source === '--port' ? 'pass --port <n>' : 'set SWARMFLOW_WEB_PORT to a port, unset it, or pass --port <n>';
    throw new Error(`${source} must be a port number between 0 and 65535 (got ${JSON.stringify(rawPort)}). Fix: ${fix}`);
  }
  const host = opts.host ?? (env.SWARMFLOW_WEB_HOST?.trim() || STANDALONE_HOST);
  return { port, host };
}

/**
 * Standalone mode: scheduler, webserver and one worker in this process, on an embedded
 * PostgreSQL (PGlite) in the home folder and an in-memory broker. Nothing to install.
 */
async function runStandalone(opts: StandaloneOptions, env: NodeJS.ProcessEnv): Promise<StandaloneServer> {
  const logger = new Logger('standalone');
  const home = path.resolve(opts.home ?? swarmflowHome());
  const dagsFolder = path.resolve(opts.dags ?? env.SWARMFLOW_DAGS_FOLDER ?? EXAMPLE_DAGS);
  const concurrency = Number(opts.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) fail(`--concurrency must be a whole number ≥ 1 (got "${opts.concurrency}")`);
  const { port, host } = standaloneAddress(opts, env);
  let metricsAccess: MetricsAccess;
  let metricsConfig: MetricsServerConfig | null;
  let publicUrl: string | null;
  let auditRetentionMs: number | null;
  let logArchive: { retentionMs: number | null } | null;
  try {
    Logger.overrideLogger(nestLogLevels(readLogLevel(env)));
    publicUrl = readPublicUrl(env);
    auditRetentionMs = readAuditRetention(env);
    // Standalone always has an artefacts store (its home's folder by default).
    logArchive = readLogArchive(env, 'file:///');
    metricsAccess = metricsAccessFromEnv(env, host);
    metricsConfig = metricsServerConfigFromEnv(env);
  } catch (err) {
    fail(err);
  }
  // Only this user: the database, its socket and the cluster key live here.
  privateDir(home);
  const { key: clusterKey, source: keySource } = loadClusterKey(process.env, home);

  const embedded = new EmbeddedPostgres(path.join(home, 'db'));
  const url = await embedded.start();
  // PGlite has one session: one connection keeps transactions from interleaving.
  const db = new Database({ url, poolSize: 1 });
  const applied = await db.migrate();
  if (applied.length) logger.log(`database at ${path.join(home, 'db')}: applied ${applied.join(', ')}`);
  const repos = new Repositories(db);
  const requeued = await requeueLostTaskMessages(repos, new Date());
  if (requeued > 0) logger.warn(`${requeued} queued tr${requeued > 1 ? 'ies' : 'y'} lost ${requeued > 1 ? 'their task messages' : 'its task message'} with the last run's in-memory broker: queued again`);
  const credentials = await ensureStandaloneCredentials(repos, home);
  const broker = new MemoryBroker();
  await broker.start();

  const config = schedulerConfigFromEnv({ SWARMFLOW_DATABASE_URL: url, ...process.env });
  // Artefacts default to a folder of the home: standalone's worker and tasks share this machine.
  const artifactsUrl = config.artifactsUrl ?? `file://${path.join(home, 'artifacts')}`;
  const scheduler = new Scheduler({ ...config, dagsFolder, clusterKey, awaitFirstParse: false, artifactsUrl }, repos, broker, new Logger('scheduler'));
  await scheduler.start();
  // The API does not wait for a slow DAGs folder, but a quick one is parsed before the
  // banner, so `swarmflow dags list` right after it shows the DAGs.
  await Promise.race([scheduler.firstParse, new Promise((r) => setTimeout(r, FIRST_PARSE_WAIT_MS).unref())]);
  const worker = await startWorker(
    { name: `standalone-${hostname()}`, installation: standaloneInstallation(home), hostname: hostname(), queues: ['default'], concurrency, gpus: discoverNvidiaGpus() },
    broker, { logger: new Logger('worker'), clusterKey },
  );
  const app = await createWebserver({
    repos, onChange: () => scheduler.runner.nudge(), logger: new Logger('webserver'), clusterKey, broker, metricsAccess, publicUrl, bindHost: host, artifactsUrl,
    auditRetention: { retentionMs: auditRetentionMs }, logArchive,
  });
  try {
    await app.listen(port, host);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    fail(code === 'EADDRINUSE' ? `port ${port} is in use. Fix: stop what uses it or pass --port <another>` : (err as Error).message);
  }
  const address = app.getHttpServer().address() as { port: number };
  const apiUrl = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`;
  // The webserver's /metrics already has everything (one process, one registry); this is for setups that scrape a fixed port.
  const metricsServer = metricsConfig ? await startMetricsServer(metricsConfig, processMetrics()) : null;
  const stateFile = path.join(home, 'standalone.json');
  writeFileSync(stateFile, JSON.stringify({ url: apiUrl, pid: process.pid, dagsFolder }, null, 2), { mode: 0o600 });

  process.stdout.write(
    `\nSwarmflow standalone is running\n` +
    `  UI:      ${apiUrl}/  (open it in a browser and log in as below)\n` +
    `  API:     ${apiUrl}/api/v1\n` +
    `  Metrics: ${apiUrl}/metrics${metricsServer ? ` and ${metricsServer.url}` : ''}\n` +
    `  DAGs:    ${dagsFolder}\n` +
    `  Data:    ${home}\n` +
    `  Key:     ${keySource} (cluster key ${clusterKey.fingerprint}; encrypts secret variables, signs task and control messages)\n` +
    `  Worker:  queue default, concurrency ${concurrency}\n` +
    (credentials.adminPassword
      ? `  Login:   user admin, password ${credentials.adminPassword}\n` +
        `           (shown once; also in ${credentials.adminPasswordFile}, readable only by you)\n`
      : `  Login:   user admin (its first password is in ${credentials.adminPasswordFile} unless changed)\n`) +
    (credentials.tokenFile
      ? `  CLI:     uses the admin token in ${credentials.tokenFile}\n\n`
      : `  CLI:     no admin named admin to make a token for: set SWARMFLOW_TOKEN or run \`swarmflow login\`\n\n`) +
    `Try:  npx swarmflow dags list\n` +
    `      npx swarmflow dags trigger ml_pipeline --conf '{"dataset":"small"}' --wait\n\n`,
  );

  // Every finished try is recorded before the process exits: the in-memory broker holds the
  // worker's last reports, and dies with the process. So nothing new is queued once stopping
  // starts, the worker drains (its last reports published), then the scheduler applies every
  // event it was sent, and only then does the broker close.
  const stop = async (): Promise<void> => {
    await metricsServer?.close();
    await app.close();
    scheduler.runner.holdDispatch();
    await worker.drain();
    await scheduler.stop({ finishEvents: true });
    await broker.close();
    await db.close();
    await embedded.stop();
    // Only our own: another standalone may have started on this home folder since.
    if (ownsStateFile(stateFile)) rmSync(stateFile, { force: true });
  };
  onSignals(stop);
  return { url: apiUrl, home, repos, clusterKey, stop };
}

/**
 * The server commands. `env` is what they read (the process's environment in the real
 * command): their help shows the defaults it gives, as the commands apply them.
 */
export function registerServerCommands(program: Command, env: NodeJS.ProcessEnv = process.env): void {
  program
    .command('standalone')
    .description('run scheduler, webserver and a worker in one process on an embedded database and an in-memory broker (what `npm start` runs)')
    .option('--dags <folder>', 'DAGs folder (default: $SWARMFLOW_DAGS_FOLDER, else the bundled examples/dags)')
    // No commander defaults: standaloneAddress() applies them, and must tell an option from the environment.
    .option('--port <port>', `API port (default: ${envDefault(env, 'SWARMFLOW_WEB_PORT', DEFAULT_WEB_PORT)})`)
    .option('--host <host>', `API host (default: ${envDefault(env, 'SWARMFLOW_WEB_HOST', STANDALONE_HOST)})`)
    .option('--concurrency <n>', 'tasks the built-in worker runs at once', '4')
    .option('--home <dir>', 'home folder for the embedded database (default: $SWARMFLOW_HOME or ~/.swarmflow)')
    .addHelpText('after', '\nMetrics: GET /metrics on the API port, open when the API listens on loopback (else it needs\n' +
      'SWARMFLOW_METRICS_TOKEN as a bearer token, or SWARMFLOW_METRICS_PUBLIC=true). Also:\n' + METRICS_HELP)
    .action((opts: StandaloneOptions) => runStandalone(opts, env).then(() => undefined, fail));

  program
    .command('scheduler')
    .description('run a scheduler (DAG processor, scheduling loop, log sink) against PostgreSQL and RabbitMQ; several may run at once')
    .option('--dags <folder>', 'DAGs folder (default: $SWARMFLOW_DAGS_FOLDER or ./dags)')
    .addHelpText('after', '\nEnvironment: SWARMFLOW_DATABASE_URL (required), SWARMFLOW_AMQP_URL, SWARMFLOW_BROKER_PREFIX,\n' +
      'SWARMFLOW_DAGS_FOLDER, SWARMFLOW_DAG_PARSE_INTERVAL (30s), SWARMFLOW_DAG_FILE_TIMEOUT (30s), SWARMFLOW_DAG_FILE_MEMORY (1024 MiB), SWARMFLOW_HEARTBEAT_TIMEOUT (30s),\n' +
      'SWARMFLOW_SCHEDULER_TICK (1s), SWARMFLOW_EVENT_COALESCE (5ms),\n' +
      'SWARMFLOW_WORKER_GONE_AFTER (2s: a worker whose broker connection stays closed this long is lost; 0 = off),\n' +
      METRICS_HELP)
    .action(async (opts: { dags?: string }) => {
      try {
        const config = schedulerConfigFromEnv(opts.dags ? { ...process.env, SWARMFLOW_DAGS_FOLDER: opts.dags } : process.env);
        const { stop } = await startScheduler(config);
        onSignals(stop);
      } catch (err) {
        fail(err);
      }
    });

  program
    .command('autoscaler')
    .description('run the autoscaler (on Swarm managers): sizes each instance group of the groups file from its queue backlog and its workers\' heartbeats; ' +
      'several may run, one leads. Subcommands status and history show its decisions')
    .addHelpText('after', '\nEnvironment: SWARMFLOW_DATABASE_URL (required), SWARMFLOW_AMQP_URL, SWARMFLOW_BROKER_PREFIX,\n' +
      'SWARMFLOW_AUTOSCALER_GROUPS (deploy/swarm/groups.yaml), SWARMFLOW_AUTOSCALER_STACK (swarmflow: group g is the service <stack>_worker-g),\n' +
      'SWARMFLOW_AUTOSCALER_INTERVAL (2s), SWARMFLOW_AUTOSCALER_UP_COOLDOWN (15s), SWARMFLOW_AUTOSCALER_DOWN_COOLDOWN (2m),\n' +
      'SWARMFLOW_HEARTBEAT_TIMEOUT (30s), SWARMFLOW_AUTOSCALER_NAME (<hostname>.<pid>), DOCKER_HOST (swarm-service groups)')
    .action(async () => {
      try {
        const { stop } = await startAutoscaler(autoscalerConfigFromEnv(process.env, hostname()));
        onSignals(stop);
      } catch (err) {
        fail(err);
      }
    });

  program
    .command('worker')
    .description('run a worker: consumes the given queues and runs their tasks (no database access)')
    .option('--queues <list>', 'comma-separated queues to serve (default: $SWARMFLOW_WORKER_QUEUES or default)')
    .option('--concurrency <n>', 'tasks run at once (default: $SWARMFLOW_WORKER_CONCURRENCY or 4)')
    .option('--name <name>', 'unique worker name, stable across restarts so a restarted worker re-adopts its containers (with the same SWARMFLOW_BROKER_PREFIX; default: <hostname>-<pid>)')
    .option('--gpus <ids>', 'GPU ids this worker hands to container tasks, e.g. 0,1,2,3, or none (default: $SWARMFLOW_WORKER_GPUS, else found with nvidia-smi)')
    .option('--allow-mounts <prefixes>', 'host path prefixes container tasks may bind-mount, comma-separated, or any (default: $SWARMFLOW_WORKER_ALLOW_MOUNTS, else none)')
    .option('--allow-host-network', 'container tasks may use network: host or container:<id> (default: $SWARMFLOW_WORKER_ALLOW_HOST_NETWORK, else no)')
    .option('--allow-privileged', 'containers run without no-new-privileges (setuid programs work) (default: $SWARMFLOW_WORKER_ALLOW_PRIVILEGED, else no)')
    .option('--allow-runtimes <list>', 'OCI runtimes container tasks may ask for, comma-separated, any or none (default: $SWARMFLOW_WORKER_ALLOW_RUNTIMES, else nvidia)')
    .option('--pids-limit <n>', 'processes a task container may hold, 0 = no limit (default: $SWARMFLOW_CONTAINER_PIDS_LIMIT, else 4096)')
    .option('--run-as-user <user>', 'run process tasks as this user (name or uid[:gid]; the worker must be root) (default: $SWARMFLOW_WORKER_RUN_AS_USER, else the worker\'s user)')
    .addHelpText('after', '\nEnvironment: SWARMFLOW_AMQP_URL, SWARMFLOW_BROKER_PREFIX, SWARMFLOW_CLUSTER_KEY or SWARMFLOW_CLUSTER_KEY_FILE\n' +
      '(required: verifies task messages, opens the secrets of container tasks), SWARMFLOW_TASK_MESSAGE_MAX_AGE (24h),\n' +
      'SWARMFLOW_HEARTBEAT_INTERVAL; the Docker engine of DOCKER_HOST or /var/run/docker.sock.\n' +
      'A container task asking for a bind mount, the host network or a runtime this worker does not allow fails, not retried.\n' +
      `${METRICS_HELP}\n` +
      'SIGTERM: stop taking work, finish running tasks, exit; a second SIGTERM cancels them (reported failed).\n' +
      'With RabbitMQ unreachable it waits at most SWARMFLOW_WORKER_STOP_TIMEOUT (8s), logs what it gives up on, and exits.\n' +
      'With SWARMFLOW_WORKER_STOP_GRACE (the supervisor\'s SIGKILL delay) it hands running containers over to the next worker\n' +
      'of its name before that runs out; they wait for it SWARMFLOW_HANDOFF_TIMEOUT (5m), then their tries are retried.\n\n' +
      'Example: swarmflow worker --queues default,gpu --concurrency 4')
    .action((opts: Record<string, string | boolean | undefined>) => runWorkerProcess(Object.fromEntries(
      Object.entries(opts).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]),
    )).catch(fail));

  program
    .command('gateway')
    .description('run the gateway: the published port in front of the webserver\'s tasks; a request a stopping task refuses goes to another, ' +
      'so webserver updates (start-first) fail no request, with or without Swarm\'s routing mesh')
    .addHelpText('after', '\nEnvironment: SWARMFLOW_GATEWAY_PORT (8080), SWARMFLOW_GATEWAY_HOST (0.0.0.0),\n' +
      'SWARMFLOW_GATEWAY_BACKEND (tasks.webserver:8080: a DNS name with one address per webserver task, and the port),\n' +
      'SWARMFLOW_GATEWAY_RESOLVE_INTERVAL (1s), SWARMFLOW_GATEWAY_RETRY_WINDOW (15s: how long a request waits for a task that\n' +
      'accepts its connection), SWARMFLOW_GATEWAY_CONNECT_TIMEOUT (2s).\n' +
      'Only a request whose connection was never made is retried (nothing of it was sent); SIGTERM: stop listening,\n' +
      'requests in flight finish (10 s at most).')
    .action(() => runGateway(process.env).catch(fail));

  program
    .command('webserver')
    .description('run the REST API against PostgreSQL')
    .addHelpText('after', '\nEnvironment: SWARMFLOW_DATABASE_URL (required),\n' +
      `SWARMFLOW_WEB_PORT: the API port (default: ${envDefault(env, 'SWARMFLOW_WEB_PORT', DEFAULT_WEB_PORT)}),\n` +
      `SWARMFLOW_WEB_HOST: the API host (default: ${envDefault(env, 'SWARMFLOW_WEB_HOST', DEFAULT_WEB_HOST)}),\n` +
      'SWARMFLOW_AMQP_URL (to send `tasks kill` and worker commands to workers, and for `queues list`), SWARMFLOW_BROKER_PREFIX,\n' +
      'SWARMFLOW_PUBLIC_URL (the URL users reach the API by; other Host names are refused), SWARMFLOW_LOG_LEVEL (error|warn|log|debug),\n' +
      'SWARMFLOW_CLUSTER_KEY or SWARMFLOW_CLUSTER_KEY_FILE (base64 32-byte key; needed to write secret variables),\n' +
      'SWARMFLOW_METRICS_TOKEN (bearer token GET /metrics requires), SWARMFLOW_METRICS_PUBLIC (true = /metrics open without\n' +
      'a token; without either it is open only when SWARMFLOW_WEB_HOST is a loopback address),\n' +
      'SWARMFLOW_ADMIN_PASSWORD_FILE (creates the admin SWARMFLOW_ADMIN_USER, default admin, when missing; without any admin\n' +
      'the webserver refuses to start), SWARMFLOW_TRUSTED_PROXIES, SWARMFLOW_AUTH_PROXY_HEADER, SWARMFLOW_COOKIE_SECURE (auto),\n' +
      'SWARMFLOW_SESSION_TTL (12h), SWARMFLOW_WEB_DRAIN (0: on SIGTERM, still answer this long, closing each connection, then stop listening)')
    .action(async () => {
      try {
        const config = loadWebserverConfig(env);
        const web = await startWebserver(config, undefined, ClusterKey.fromEnv(process.env));
        onSignals(web.close);
      } catch (err) {
        fail(err);
      }
    });

  const db = program.command('db').description('metadata database');
  db.command('migrate')
    .description('apply pending migrations to $SWARMFLOW_DATABASE_URL')
    .action(async () => {
      const url = process.env.SWARMFLOW_DATABASE_URL;
      if (!url) fail('SWARMFLOW_DATABASE_URL is not set. Fix: export SWARMFLOW_DATABASE_URL=postgres://user:pass@host:5432/swarmflow');
      const database = new Database({ url, poolSize: 1 });
      try {
        const applied = await database.migrate();
        process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'the database is up to date\n');
      } catch (err) {
        fail(`migration failed: ${(err as Error).message}`);
      } finally {
        await database.close();
      }
    });
}
