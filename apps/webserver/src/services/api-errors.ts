// Errors of the webserver's services. They say nothing about HTTP: the exception filter
// maps them (NotFoundError → 404, ConflictError → 409) at the edge.

export type NotFoundReason = 'dag_not_found' | 'run_not_found' | 'task_not_found' | 'variable_not_found' | 'pool_not_found' | 'try_not_found' | 'worker_not_found' | 'user_not_found' | 'token_not_found' | 'version_not_found';

/** The DAG, run or task instance named in the request does not exist. */
export class NotFoundError extends Error {
  override name = 'NotFoundError';

  constructor(readonly reason: NotFoundReason, message: string) {
    super(message);
  }
}

export type ConflictReason = 'task_busy' | 'task_not_running' | 'dag_inactive' | 'concurrent_change' | 'default_pool' | 'worker_state' | 'user_exists' | 'last_admin';

/** The request is valid but the current state forbids it; retrying later may succeed. */
export class ConflictError extends Error {
  override name = 'ConflictError';

  constructor(readonly reason: ConflictReason, message: string, readonly field?: string) {
    super(message);
  }
}

/**
 * A secret variable must be written or read in plaintext, and this server has no cluster
 * key. `field` is the request field that asked for it (`secret`, `variables.<key>`).
 */
export class NoClusterKeyError extends Error {
  override name = 'NoClusterKeyError';
  readonly reason = 'no_cluster_key';

  constructor(readonly field?: string) {
    super('secret variables are encrypted with the cluster key, and this server has none: set SWARMFLOW_CLUSTER_KEY ' +
      '(a base64 32-byte key, e.g. from `openssl rand -base64 32`) or SWARMFLOW_CLUSTER_KEY_FILE (a Docker secret) ' +
      'to the same key on the webserver, schedulers and workers, and restart the webserver');
  }
}

/** A command for the workers (kill) needs the broker, and this server has no connection to it. */
export class NoBrokerError extends Error {
  override name = 'NoBrokerError';
  readonly reason = 'no_broker';

  constructor() {
    super('this webserver has no broker connection to send commands to workers: set SWARMFLOW_AMQP_URL on the webserver and restart it');
  }
}
