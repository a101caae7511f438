import { ConfigError, schedulerConfigFromEnv } from './config';

const base = { SWARMFLOW_DATABASE_URL: 'postgres://db/swarmflow' };

describe('schedulerConfigFromEnv', () => {
  it('has defaults for everything but the database', () => {
    expect(schedulerConfigFromEnv(base)).toEqual({
      databaseUrl: 'postgres://db/swarmflow', amqpUrl: 'amqp://guest:guest@127.0.0.1:5672', brokerPrefix: '', dagsFolder: 'dags',
      dagParseIntervalMs: 30_000, dagFileTimeoutMs: 30_000, dagFileMemoryMb: 1024, tickMs: 1000, heartbeatTimeoutMs: 30_000, eventCoalesceMs: 5,
      workerGoneMs: 2000, artifactsUrl: null,
    });
  });

  it('reads the memory of a DAG file import in MiB, and names the variable when it is no number', () => {
    expect(schedulerConfigFromEnv({ ...base, SWARMFLOW_DAG_FILE_MEMORY: '512' }).dagFileMemoryMb).toBe(512);
    expect(() => schedulerConfigFromEnv({ ...base, SWARMFLOW_DAG_FILE_MEMORY: '1g' }))
      .toThrow('SWARMFLOW_DAG_FILE_MEMORY must be a whole number of MiB, at least 64 (got "1g"). Fix: use e.g. 1024');
  });

  it('reads the artefacts URL, and names the variable when it is not one', () => {
    expect(schedulerConfigFromEnv({ ...base, SWARMFLOW_ARTIFACTS_URL: 's3://ml-data/swarmflow' }).artifactsUrl).toBe('s3://ml-data/swarmflow');
    expect(() => schedulerConfigFromEnv({ ...base, SWARMFLOW_ARTIFACTS_URL: 'http://minio:9000/b' }))
      .toThrow('SWARMFLOW_ARTIFACTS_URL is neither s3:// nor file:// (an absolute path). Fix: use s3://<bucket>/<prefix> or file:///<absolute folder>');
  });

  it('reads durations, and 0ms turns event coalescing off', () => {
    const config = schedulerConfigFromEnv({ ...base, SWARMFLOW_SCHEDULER_TICK: '250ms', SWARMFLOW_EVENT_COALESCE: '0ms' });
    expect(config.tickMs).toBe(250);
    expect(config.eventCoalesceMs).toBe(0);
  });

  it('names the variable and the fix for a bad value', () => {
    expect(() => schedulerConfigFromEnv({ ...base, SWARMFLOW_EVENT_COALESCE: 'soon' })).toThrow(ConfigError);
    expect(() => schedulerConfigFromEnv({ ...base, SWARMFLOW_EVENT_COALESCE: 'soon' }))
      .toThrow('SWARMFLOW_EVENT_COALESCE is not a duration (got "soon"). Fix: use e.g. 5ms, 500ms, 5m');
    expect(() => schedulerConfigFromEnv({})).toThrow(/SWARMFLOW_DATABASE_URL is not set\. Fix: set it to a PostgreSQL URL/);
  });
});
