// Errors of the webserver's services. They say nothing about HTTP: the exception filter
// maps them (NotFoundError → 404, ConflictError → 409) at the edge.

export type NotFoundReason = 'dag_not_found' | 'run_not_found' | 'task_not_found';

/** The DAG, run or task instance named in the request does not exist. */
export class NotFoundError extends Error {
  override name = 'NotFoundError';

  constructor(readonly reason: NotFoundReason, message: string) {
    super(message);
  }
}

export type ConflictReason = 'task_busy' | 'dag_inactive' | 'concurrent_change';

/** The request is valid but the current state forbids it; retrying later may succeed. */
export class ConflictError extends Error {
  override name = 'ConflictError';

  constructor(readonly reason: ConflictReason, message: string, readonly field?: string) {
    super(message);
  }
}
