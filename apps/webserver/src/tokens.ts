// Injection tokens of the webserver's providers (set by WebserverModule.forRoot).

/** The `Repositories` over the metadata database. */
export const REPOSITORIES = Symbol('REPOSITORIES');
/** `() => void`: tells an in-process scheduler that runs or task instances changed. */
export const ON_CHANGE = Symbol('ON_CHANGE');
/** `ClusterKey | null`: encrypts secret variables (and, through CONTROL, signs commands to workers); null when the server was started without one. */
export const CLUSTER_KEY = Symbol('CLUSTER_KEY');
/** `Broker | null`: sends commands to workers (kill); null when the server has no broker connection. */
export const BROKER = Symbol('BROKER');
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
