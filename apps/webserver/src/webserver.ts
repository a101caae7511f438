import 'reflect-metadata';
import { Logger, type INestApplication, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Broker } from '@swarmflow/messaging';
import type { Repositories } from '@swarmflow/persistence';
import type { ClusterKey } from '@swarmflow/secrets';
import { ApiExceptionFilter } from './http/api-exception.filter';
import { JSON_TYPES, requireJsonBody } from './http/json-body.middleware';
import { WebserverModule } from './webserver.module';
import type { Clock } from './tokens';
import type { AuthOptions } from './auth/auth-options';

export interface WebserverOptions {
  repos: Repositories;
  /** Called after a trigger or a clear, so that an in-process scheduler evaluates at once. */
  onChange?: () => void;
  /** false = silent (tests); default Nest's console logger. */
  logger?: false | LoggerService;
  /** For tests; default the system clock. */
  clock?: Clock;
  /**
   * The cluster key (SWARMFLOW_CLUSTER_KEY): encrypts secret variables at rest. Without it
   * the API still serves variables, but writing a secret answers 400 `no_cluster_key`.
   */
  clusterKey?: ClusterKey | null;
  /** Sends commands to workers (`tasks kill`); without it, kill answers 503 `no_broker`. */
  broker?: Broker | null;
  /**
   * How callers are authenticated (trusted proxies, cookies, login limits); default
   * DEFAULT_AUTH_OPTIONS. Every route but `GET /health` and login needs a caller.
   */
  auth?: Partial<AuthOptions>;
}

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
    WebserverModule.forRoot({ repos: options.repos, onChange: options.onChange, clock: options.clock, clusterKey: options.clusterKey, broker: options.broker, auth: options.auth }),
    { logger: options.logger === false ? false : options.logger, abortOnError: false, bodyParser: false },
  );
  // JSON bodies only, refused otherwise: Nest's default form parser turned
  // `curl -d '{"isPaused": true}'` (a form, to curl) into one odd unknown field.
  // Only the configured proxies' X-Forwarded-For/-Proto count (client address in the audit log, Secure cookies).
  app.set('trust proxy', options.auth?.trustedProxies?.length ? options.auth.trustedProxies : false);
  app.use(requireJsonBody);
  app.useBodyParser('json', { type: JSON_TYPES });
  app.setGlobalPrefix(API_PREFIX);
  app.useGlobalFilters(new ApiExceptionFilter(logger));
  await app.init();
  return app;
}
