// Injection tokens of the webserver's providers (set by WebserverModule.forRoot).

/** The `Repositories` over the metadata database. */
export const REPOSITORIES = Symbol('REPOSITORIES');
/** `() => void`: tells an in-process scheduler that runs or task instances changed. */
export const ON_CHANGE = Symbol('ON_CHANGE');
/** `ClusterKey | null`: encrypts secret variables (and, through CONTROL, signs commands to workers); null when the server was started without one. */
export const CLUSTER_KEY = Symbol('CLUSTER_KEY');
/** `Broker | null`: sends commands to workers (kill); null when the server has no broker connection. */
export const BROKER = Symbol('BROKER');
/** `string | null`: SWARMFLOW_ARTIFACTS_URL, where tries keep their artefacts (listed by the API). */
export const ARTIFACTS_URL = Symbol('ARTIFACTS_URL');
/** `ControlSender | null`: signs and sends commands to workers; null when the server has no broker connection. */
export const CONTROL = Symbol('CONTROL');
/** `MetricsAccess`: who may read `/metrics`. */
export const METRICS_ACCESS = Symbol('METRICS_ACCESS');
/** `() => Date`: the only clock services read. */
export const CLOCK = Symbol('CLOCK');

export type Clock = () => Date;
export type OnChange = () => void;
/** `AuthOptions`: how callers are authenticated (proxies, cookies, login throttling). */
export const AUTH_OPTIONS = Symbol('AUTH_OPTIONS');
/** `Accounts`: users and API tokens. */
export const ACCOUNTS = Symbol('ACCOUNTS');
/** `LoginThrottle`: counts failed logins per user and per address. */
export const LOGIN_THROTTLE = Symbol('LOGIN_THROTTLE');

/** Token for the audit log's retention ({@link AuditRetentionOptions}); null = keep everything. */
export const AUDIT_RETENTION = Symbol('AUDIT_RETENTION');
/** Remote logging: LogArchiveOptions, or null (logs stay in the database only). */
export const LOG_ARCHIVE = Symbol('LOG_ARCHIVE');
/** `LiveEventsOptions`: how the live feed polls (`GET /api/v1/events`). */
export const LIVE_EVENTS_OPTIONS = Symbol('LIVE_EVENTS_OPTIONS');
/** `boolean`: sample queue depths into the database for the dashboard's chart. */
export const QUEUE_SAMPLING = Symbol('QUEUE_SAMPLING');
