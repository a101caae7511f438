import { checkMetricsAccess, isLoopback, MetricsConfigError, metricsAccessFromEnv } from './metrics-access';
import { metricsServerConfigFromEnv } from './metrics-server';

const TOKEN = 'a'.repeat(32);

describe('metrics access', () => {
  it('tells loopback addresses from others', () => {
    expect(['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '::', '10.0.0.5', 'example.org', '128.0.0.1'].some(isLoopback)).toBe(false);
  });

  it('is open on loopback, closed beyond it, unless SWARMFLOW_METRICS_PUBLIC says otherwise', () => {
    expect(metricsAccessFromEnv({}, '127.0.0.1')).toEqual({ token: null, open: true });
    expect(metricsAccessFromEnv({}, '0.0.0.0')).toEqual({ token: null, open: false });
    expect(metricsAccessFromEnv({ SWARMFLOW_METRICS_PUBLIC: 'true' }, '0.0.0.0')).toEqual({ token: null, open: true });
    expect(() => metricsAccessFromEnv({ SWARMFLOW_METRICS_PUBLIC: 'yes please' }, '0.0.0.0')).toThrow(
      'SWARMFLOW_METRICS_PUBLIC must be true or false (got "yes please"). Fix: set it to true to let anyone who reaches the port read /metrics');
  });

  it('requires the token when one is set, even on loopback', () => {
    const access = metricsAccessFromEnv({ SWARMFLOW_METRICS_TOKEN: TOKEN, SWARMFLOW_METRICS_PUBLIC: 'true' }, '127.0.0.1');
    expect(access).toEqual({ token: TOKEN, open: false });
    expect(checkMetricsAccess(access, `Bearer ${TOKEN}`)).toEqual({ ok: true });
    expect(checkMetricsAccess(access, `bearer ${TOKEN}`)).toEqual({ ok: true });
    expect(checkMetricsAccess(access, undefined)).toMatchObject({ ok: false, status: 401 });
    expect(checkMetricsAccess(access, `Bearer ${TOKEN}x`)).toMatchObject({ ok: false, status: 401 });
    expect(checkMetricsAccess(access, `Basic ${TOKEN}`)).toMatchObject({ ok: false, status: 401 });
    expect(() => metricsAccessFromEnv({ SWARMFLOW_METRICS_TOKEN: 'short' }, '127.0.0.1')).toThrow(MetricsConfigError);
  });

  it('names both fixes when closed', () => {
    const decision = checkMetricsAccess({ token: null, open: false }, undefined);
    expect(decision).toMatchObject({ ok: false, status: 403 });
    expect((decision as { message: string }).message).toMatch(/SWARMFLOW_METRICS_TOKEN.*SWARMFLOW_METRICS_PUBLIC=true/);
  });
});

describe('metricsServerConfigFromEnv', () => {
  it('is off without SWARMFLOW_METRICS_PORT and on loopback by default', () => {
    expect(metricsServerConfigFromEnv({})).toBeNull();
    expect(metricsServerConfigFromEnv({ SWARMFLOW_METRICS_PORT: ' ' })).toBeNull();
    expect(metricsServerConfigFromEnv({ SWARMFLOW_METRICS_PORT: '9464' })).toEqual({ port: 9464, host: '127.0.0.1', access: { token: null, open: true } });
    expect(metricsServerConfigFromEnv({ SWARMFLOW_METRICS_PORT: '9464', SWARMFLOW_METRICS_HOST: '0.0.0.0' }))
      .toEqual({ port: 9464, host: '0.0.0.0', access: { token: null, open: false } });
  });

  it('names the variable of a bad port', () => {
    expect(() => metricsServerConfigFromEnv({ SWARMFLOW_METRICS_PORT: 'http' })).toThrow(
      'SWARMFLOW_METRICS_PORT must be a port number between 0 and 65535 (got "http"). Fix: set e.g. SWARMFLOW_METRICS_PORT=9464, or unset it for no metrics endpoint');
    expect(() => metricsServerConfigFromEnv({ SWARMFLOW_METRICS_PORT: '70000' })).toThrow(MetricsConfigError);
  });
});
