/**
 * API roles, each including the ones before it (DESIGN.md, "Security"). Who may do what is
 * decided here; the webserver's guard only asks.
 */
export type Role =
  | 'viewer' //   reads DAGs, runs, task tries, logs, workers, queues, pools; lists and revokes own tokens
  | 'operator' // + triggers, clears, kills, marks, cancels runs, pauses, drains/shuts down/resumes workers
  | 'admin'; //   + variables, pools, users, tokens, audit log

export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];

/** True when a caller holding `held` may do what needs `needed`. */
export function roleAllows(held: Role, needed: Role): boolean {
  return ROLES.indexOf(held) >= ROLES.indexOf(needed);
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}
