/** Why a request was refused before it reached its route. */
export type AuthReason =
  | 'unauthenticated' //    401: no valid caller
  | 'forbidden' //          403: the caller's role is not enough
  | 'csrf_failed' //        403: a cookie-authenticated write without the right X-CSRF-Token
  | 'too_many_attempts'; // 429: too many failed logins

const STATUS: Record<AuthReason, number> = { unauthenticated: 401, forbidden: 403, csrf_failed: 403, too_many_attempts: 429 };

/** A request refused by authentication or authorization; the exception filter answers `status` with `{ reason, message }`. */
export class AuthError extends Error {
  override name = 'AuthError';
  readonly status: number;

  constructor(readonly reason: AuthReason, message: string, readonly retryAfterSeconds?: number) {
    super(message);
    this.status = STATUS[reason];
  }
}
