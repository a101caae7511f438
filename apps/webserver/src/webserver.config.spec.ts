import { loadWebserverConfig, WebserverConfigError } from './webserver.config';

const URL_OK = 'postgres://swarmflow:secret@postgres:5432/swarmflow';

describe('loadWebserverConfig', () => {
  it('applies the defaults', () => {
    expect(loadWebserverConfig({ SWARMFLOW_DATABASE_URL: URL_OK })).toMatchObject({
      databaseUrl: URL_OK, port: 8080, host: '0.0.0.0', amqpUrl: null, brokerPrefix: '', publicUrl: null, logLevel: 'log', adminPasswordFile: null, adminUser: 'admin',
      auditRetentionMs: 90 * 24 * 3_600_000,
      auth: { trustedProxies: [], proxyUserHeader: null, cookieSecure: 'auto', sessionTtlMs: 12 * 3_600_000 },
    });
  });

  it('reads the drain on SIGTERM: 0 by default, a duration, naming a bad one', () => {
    const read = (value?: string) => loadWebserverConfig({ SWARMFLOW_DATABASE_URL: URL_OK, ...(value === undefined ? {} : { SWARMFLOW_WEB_DRAIN: value }) }).drainMs;
    expect(read()).toBe(0);
    expect(read('0')).toBe(0);
    expect(read('3s')).toBe(3000);
    expect(() => read('soon')).toThrow(new WebserverConfigError('SWARMFLOW_WEB_DRAIN', 'must be a duration such as 3s, or 0 to stop listening at once (got "soon")'));
  });

  it('reads the audit retention: a duration, 0 or forever to keep all, naming a bad one', () => {
    const read = (value: string) => loadWebserverConfig({ SWARMFLOW_DATABASE_URL: URL_OK, SWARMFLOW_AUDIT_RETENTION: value }).auditRetentionMs;
    expect(read('30d')).toBe(30 * 24 * 3_600_000);
    expect(read('12h')).toBe(12 * 3_600_000);
    expect(read('0')).toBeNull();
    expect(read('Forever')).toBeNull();
    expect(read(' ')).toBe(90 * 24 * 3_600_000);
    expect(() => read('soon')).toThrow(new WebserverConfigError('SWARMFLOW_AUDIT_RETENTION', 'must be a duration such as 90d or 720h, or 0 / forever to keep every entry (got "soon")'));
  });

  it('reads the log archive: off by default; a retention needs the archive, the archive an artefacts store', () => {
    const load = (env: Record<string, string>) => loadWebserverConfig({ SWARMFLOW_DATABASE_URL: URL_OK, ...env }).logArchive;
    const S3 = { SWARMFLOW_ARTIFACTS_URL: 's3://bucket/p' };
    expect(load({})).toBeNull();
    expect(load({ ...S3, SWARMFLOW_LOG_ARCHIVE: 'true' })).toEqual({ retentionMs: null });
    expect(load({ ...S3, SWARMFLOW_LOG_ARCHIVE: 'TRUE', SWARMFLOW_LOG_RETENTION: '7d' })).toEqual({ retentionMs: 7 * 24 * 3_600_000 });
    expect(load({ ...S3, SWARMFLOW_LOG_ARCHIVE: '1', SWARMFLOW_LOG_RETENTION: 'forever' })).toEqual({ retentionMs: null });
    expect(() => load({ SWARMFLOW_LOG_RETENTION: '7d' }))
      .toThrow('SWARMFLOW_LOG_RETENTION: prunes only archived task logs: set SWARMFLOW_LOG_ARCHIVE=true (and SWARMFLOW_ARTIFACTS_URL), or unset it');
    expect(() => load({ SWARMFLOW_LOG_ARCHIVE: 'true' })).toThrow('SWARMFLOW_LOG_ARCHIVE: archives task logs to the artefacts store: set SWARMFLOW_ARTIFACTS_URL');
    expect(() => load({ ...S3, SWARMFLOW_LOG_ARCHIVE: 'yes' })).toThrow('SWARMFLOW_LOG_ARCHIVE: must be true or false (got "yes")');
    expect(() => load({ ...S3, SWARMFLOW_LOG_ARCHIVE: 'true', SWARMFLOW_LOG_RETENTION: 'soon' })).toThrow('SWARMFLOW_LOG_RETENTION: must be a duration');
  });

  it('reads the public URL and the log level, naming a bad level', () => {
    expect(loadWebserverConfig({ SWARMFLOW_DATABASE_URL: URL_OK, SWARMFLOW_PUBLIC_URL: 'https://sf.example.com', SWARMFLOW_LOG_LEVEL: 'DEBUG' }))
      .toMatchObject({ publicUrl: 'https://sf.example.com', logLevel: 'debug' });
    expect(() => loadWebserverConfig({ SWARMFLOW_DATABASE_URL: URL_OK, SWARMFLOW_LOG_LEVEL: 'chatty' }))
      .toThrow('SWARMFLOW_LOG_LEVEL: must be one of error, warn, log, debug (got "chatty")');
  });

  it('reads port and host', () => {
    expect(loadWebserverConfig({ SWARMFLOW_DATABASE_URL: URL_OK, SWARMFLOW_WEB_PORT: '9000', SWARMFLOW_WEB_HOST: '127.0.0.1' }))
      .toMatchObject({ databaseUrl: URL_OK, port: 9000, host: '127.0.0.1', amqpUrl: null, brokerPrefix: '' });
  });

  it('reads the broker for commands to workers, and rejects a URL that is not amqp', () => {
    expect(loadWebserverConfig({ SWARMFLOW_DATABASE_URL: URL_OK, SWARMFLOW_AMQP_URL: 'amqp://u:p@mq:5672', SWARMFLOW_BROKER_PREFIX: 'x.' }))
      .toMatchObject({ amqpUrl: 'amqp://u:p@mq:5672', brokerPrefix: 'x.' });
    expect(() => loadWebserverConfig({ SWARMFLOW_DATABASE_URL: URL_OK, SWARMFLOW_AMQP_URL: 'http://mq' }))
      .toThrow('SWARMFLOW_AMQP_URL: must be an amqp:// or amqps:// URL, e.g. amqp://user:password@rabbitmq:5672');
  });

  it('names the missing database variable', () => {
    expect(() => loadWebserverConfig({})).toThrow(new WebserverConfigError(
      'SWARMFLOW_DATABASE_URL', 'is required: set it to the metadata database, e.g. postgres://swarmflow:password@postgres:5432/swarmflow',
    ));
  });

  it('rejects a non-postgres URL without echoing it', () => {
    let caught: unknown;
    try {
      loadWebserverConfig({ SWARMFLOW_DATABASE_URL: 'mysql://u:hunter2@db/x' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(WebserverConfigError);
    expect((caught as WebserverConfigError).variable).toBe('SWARMFLOW_DATABASE_URL');
    expect((caught as Error).message).not.toContain('hunter2');
  });

  it('names a bad port', () => {
    expect(() => loadWebserverConfig({ SWARMFLOW_DATABASE_URL: URL_OK, SWARMFLOW_WEB_PORT: 'http' }))
      .toThrow('SWARMFLOW_WEB_PORT: must be a port number between 0 and 65535 (got "http")');
  });

  it('reads the authentication settings, and names the bad one', () => {
    expect(loadWebserverConfig({
      SWARMFLOW_DATABASE_URL: URL_OK, SWARMFLOW_TRUSTED_PROXIES: '10.0.0.5, 10.0.1.0/24', SWARMFLOW_AUTH_PROXY_HEADER: 'X-Forwarded-User',
      SWARMFLOW_COOKIE_SECURE: 'true', SWARMFLOW_SESSION_TTL: '30m', SWARMFLOW_ADMIN_PASSWORD_FILE: '/run/secrets/admin', SWARMFLOW_ADMIN_USER: 'root',
    })).toMatchObject({
      adminPasswordFile: '/run/secrets/admin', adminUser: 'root',
      auth: { trustedProxies: ['10.0.0.5', '10.0.1.0/24'], proxyUserHeader: 'X-Forwarded-User', cookieSecure: true, sessionTtlMs: 1_800_000 },
    });
    expect(() => loadWebserverConfig({ SWARMFLOW_DATABASE_URL: URL_OK, SWARMFLOW_AUTH_PROXY_HEADER: 'X-Forwarded-User' }))
      .toThrow('SWARMFLOW_AUTH_PROXY_HEADER: needs SWARMFLOW_TRUSTED_PROXIES');
    expect(() => loadWebserverConfig({ SWARMFLOW_DATABASE_URL: URL_OK, SWARMFLOW_TRUSTED_PROXIES: 'proxy.example' }))
      .toThrow('SWARMFLOW_TRUSTED_PROXIES: "proxy.example" is not an IP address or CIDR');
    expect(() => loadWebserverConfig({ SWARMFLOW_DATABASE_URL: URL_OK, SWARMFLOW_COOKIE_SECURE: 'yes' })).toThrow('SWARMFLOW_COOKIE_SECURE: must be auto, true or false');
  });
});
