import { SwarmflowMetrics } from './metrics';
import { startMetricsServer, type RunningMetricsServer } from './metrics-server';

const TOKEN = 'b'.repeat(32);

describe('startMetricsServer', () => {
  let server: RunningMetricsServer | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
  });

  it('serves the registry at GET /metrics and nothing else', async () => {
    const metrics = new SwarmflowMetrics();
    metrics.eventsApplied.inc(3);
    server = await startMetricsServer({ port: 0, host: '127.0.0.1', access: { token: null, open: true } }, metrics);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    const body = await res.text();
    expect(body).toContain('swarmflow_scheduler_events_applied_total 3');
    expect(body).toContain('process_cpu_seconds_total'); // an endpoint turns Node's metrics on
    const other = await fetch(server.url.replace('/metrics', '/api'));
    expect(other.status).toBe(404);
    expect(await other.text()).toContain('GET /metrics only');
  });

  it('requires the bearer token when configured', async () => {
    server = await startMetricsServer({ port: 0, host: '127.0.0.1', access: { token: TOKEN, open: false } }, new SwarmflowMetrics());
    expect((await fetch(server.url)).status).toBe(401);
    expect((await fetch(server.url, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
  });

  it('names the variable when the port is taken', async () => {
    server = await startMetricsServer({ port: 0, host: '127.0.0.1', access: { token: null, open: true } }, new SwarmflowMetrics());
    const port = Number(new URL(server.url).port);
    await expect(startMetricsServer({ port, host: '127.0.0.1', access: { token: null, open: true } }, new SwarmflowMetrics()))
      .rejects.toThrow(`SWARMFLOW_METRICS_PORT ${port} is in use on 127.0.0.1. Fix: choose another port`);
  });
});
