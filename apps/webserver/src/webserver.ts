import 'reflect-metadata';
import { Logger, RequestMethod, type INestApplication, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Broker } from '@swarmflow/messaging';
import type { Repositories } from '@swarmflow/persistence';
import { processMetrics, type MetricsAccess } from '@swarmflow/observability';
import type { ClusterKey } from '@swarmflow/secrets';
import helmet from 'helmet';
import { ApiExceptionFilter } from './http/api-exception.filter';
import { httpMetrics } from './http/http-metrics.middleware';
import { hostCheck } from './http/host-check.middleware';
import { rejectUnstorableBody, rejectUnstorablePathAndQuery } from './http/unstorable-input.middleware';
import { JSON_TYPES, requireJsonBody } from './http/json-body.middleware';
import { PathParamsPipe } from './http/path-params.pipe';
import { quietStartupLogger } from './quiet-startup.logger';
import { buildOpenApiDocument, serveOpenApi } from './http/openapi';
import { defaultUiDir, serveUi } from './http/ui-static';
import { CONTROLLERS, WebserverModule } from './webserver.module';
import { mountBullBoard } from './bull-board/bull-board';
import type { Clock } from './tokens';
import type { AuthOptions } from './auth/auth-options';
import type { AuditRetentionOptions } from './auth/audit-retention';
import type { LogArchiveOptions } from './services/log-archive.service';
import type { LiveEventsOptions } from './services/live-events.service';

export interface WebserverOptions {
  repos: Repositories;
  /** Called after a trigger or a clear, so that an in-process scheduler evaluates at once. */
  onChange?: () => void;
  /** false = silent (tests); default Nest's console logger. */
  logger?: false | LoggerService;
  /** For tests; default the system clock. */
  clock?: Clock;
  /**
   * The cluster key (SWARMFLOW_CLUSTER_KEY): encrypts secret variables at rest and signs
   * commands to workers. Without it the API still serves variables, but writing a secret
   * answers 400 `no_cluster_key`, and kill and worker commands 503 `no_cluster_key`.
   */
  clusterKey?: ClusterKey | null;
  /** Sends commands to workers (`tasks kill`); without it, kill answers 503 `no_broker`. */
  broker?: Broker | null;
  /** SWARMFLOW_ARTIFACTS_URL, to list tries' artefacts. */
  artifactsUrl?: string | null;
  /** SWARMFLOW_LOG_ARCHIVE / SWARMFLOW_LOG_RETENTION: task logs archived to the artefacts store; null/absent = off. */
  logArchive?: LogArchiveOptions | null;
  /**
   * Who may read `GET /metrics` (see {@link MetricsAccess}, `metricsAccessFromEnv`); default
   * nobody: it answers 403 naming the fix.
   */
  metricsAccess?: MetricsAccess;
  /**
   * SWARMFLOW_PUBLIC_URL: requests for another host name (421) or from another site's page
   * (403) are refused. See {@link hostCheck}.
   */
  publicUrl?: string | null;
  /** The address the server will bind: loopback means only loopback names are answered. Undefined: no Host check without `publicUrl`. */
  bindHost?: string;
  /**
   * How callers are authenticated (trusted proxies, cookies, login limits); default
   * DEFAULT_AUTH_OPTIONS. Every route but `GET /health` and login needs a caller.
   */
  auth?: Partial<AuthOptions>;
  /**
   * SWARMFLOW_AUDIT_RETENTION: audit entries older than this are pruned, at start and
   * hourly, in batches. Undefined or null: nothing is pruned (the servers pass the setting,
   * default 90 days; see `readAuditRetention`).
   */
  auditRetention?: AuditRetentionOptions | null;
  /** How the live feed (`GET /api/v1/events`) polls; default every 250 ms while someone listens. */
  liveEvents?: Partial<LiveEventsOptions>;
  /** Sample queue depths every 15 s for the dashboard's chart (default: when there is a broker). */
  sampleQueues?: boolean;
  /** The built web UI served at `/` (default dist/ui, found next to the build); null: none. */
  uiDir?: string | null;
}

/** Largest request body read; a bigger one is refused with 413 `body_too_large`. */
export const BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * What helmet sends, with a content security policy a same-origin single-page app (and the
 * API docs page) lives with: scripts, styles, fonts and fetches from this origin only.
 */
const SECURITY_HEADERS = helmet({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      fontSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      objectSrc: ["'none'"],
      baseUri: ["'self'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
    },
  },
});

/** Mount point of the REST API. */
export const API_PREFIX = 'api/v1';

/**
 * Builds and initialises the webserver (REST API under `/api/v1`) without listening:
 * the caller runs `app.listen(port, host)` and, at shutdown, `app.close()` (which does not
 * close the database: it belongs to the caller).
 */
export async function createWebserver(options: WebserverOptions): Promise<INestApplication> {
  const logger = options.logger === false ? null : options.logger ?? new Logger('Webserver');
  const app = await NestFactory.create<NestExpressApplication>(
    WebserverModule.forRoot({
      repos: options.repos, onChange: options.onChange, clock: options.clock, clusterKey: options.clusterKey, broker: options.broker, artifactsUrl: options.artifactsUrl, logArchive: options.logArchive,
      metricsAccess: options.metricsAccess, auth: options.auth, auditRetention: options.auditRetention, liveEvents: options.liveEvents, sampleQueues: options.sampleQueues,
    }),
    { logger: logger === null ? false : quietStartupLogger(logger), abortOnError: false, bodyParser: false },
  );
  // First, so that requests refused by what follows are counted too.
  app.use(httpMetrics);
  app.disable('x-powered-by');
  app.use(hostCheck({ publicUrl: options.publicUrl ?? null, bindHost: options.bindHost }));
  app.use(SECURITY_HEADERS);
  // JSON bodies only, refused otherwise: Nest's default form parser turned
  // `curl -d '{"isPaused": true}'` (a form, to curl) into one odd unknown field.
  // Only the configured proxies' X-Forwarded-For/-Proto count (client address in the audit log, Secure cookies).
  app.set('trust proxy', options.auth?.trustedProxies?.length ? options.auth.trustedProxies : false);
  // bull-board at /queues (its own login check; before the API's JSON-only body rules).
  mountBullBoard(app);
  // The web UI (static files, no request body): before the JSON-only body checks.
  serveUi(app, options.uiDir === undefined ? defaultUiDir() : options.uiDir);
  app.use(requireJsonBody);
  app.use(rejectUnstorablePathAndQuery);
  app.useBodyParser('json', { type: JSON_TYPES, limit: BODY_LIMIT_BYTES });
  app.use(rejectUnstorableBody);
  // Prometheus expects /metrics at the root, not under the API's prefix.
  app.setGlobalPrefix(API_PREFIX, { exclude: [{ path: 'metrics', method: RequestMethod.GET }] });
  processMetrics().enableDefaultMetrics();
  app.useGlobalPipes(new PathParamsPipe());
  app.useGlobalFilters(new ApiExceptionFilter(logger));
  serveOpenApi(app, buildOpenApiDocument(app, CONTROLLERS));
  await app.init();
  return app;
}
