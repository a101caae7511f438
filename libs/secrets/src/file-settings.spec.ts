import { ConfigError } from './cluster-key';
import { resolveFileSettings } from './file-settings';

const files: Record<string, string> = {
  '/run/secrets/db': 's3cr/et@x\n',
  '/run/secrets/mq': 'mq-pass',
  '/run/secrets/url': 'postgres://u:p@db:5432/sf\n',
};
const read = (p: string): string => {
  if (!(p in files)) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
  return files[p];
};

describe('resolveFileSettings', () => {
  it('puts a password file into its URL, encoded, and leaves the rest alone', () => {
    const env = resolveFileSettings({
      SWARMFLOW_DATABASE_URL: 'postgres://swarmflow@postgres:5432/swarmflow', SWARMFLOW_DATABASE_PASSWORD_FILE: '/run/secrets/db',
      SWARMFLOW_AMQP_URL: 'amqp://swarmflow@rabbitmq:5672', SWARMFLOW_AMQP_PASSWORD_FILE: '/run/secrets/mq', OTHER: 'x',
    }, read);
    expect(env.SWARMFLOW_DATABASE_URL).toBe('postgres://swarmflow:s3cr%2Fet%40x@postgres:5432/swarmflow');
    expect(new URL(env.SWARMFLOW_DATABASE_URL!).password).toBe('s3cr%2Fet%40x');
    expect(env.SWARMFLOW_AMQP_URL).toBe('amqp://swarmflow:mq-pass@rabbitmq:5672');
    expect(env.OTHER).toBe('x');
  });

  it('reads a whole setting from its _FILE, without the trailing newline', () => {
    expect(resolveFileSettings({ SWARMFLOW_DATABASE_URL_FILE: '/run/secrets/url' }, read).SWARMFLOW_DATABASE_URL).toBe('postgres://u:p@db:5432/sf');
  });

  it('names the variable when the file is missing, both forms are set, or the URL is missing', () => {
    expect(() => resolveFileSettings({ SWARMFLOW_AMQP_URL_FILE: '/nowhere' }, read))
      .toThrow(new ConfigError('SWARMFLOW_AMQP_URL_FILE', 'cannot read /nowhere (ENOENT): point it at the file holding the value (e.g. /run/secrets/<name>)'));
    expect(() => resolveFileSettings({ SWARMFLOW_AMQP_URL: 'amqp://x', SWARMFLOW_AMQP_URL_FILE: '/run/secrets/mq' }, read))
      .toThrow('SWARMFLOW_AMQP_URL: and SWARMFLOW_AMQP_URL_FILE are both set: keep only one');
    expect(() => resolveFileSettings({ SWARMFLOW_DATABASE_PASSWORD_FILE: '/run/secrets/db' }, read))
      .toThrow(/SWARMFLOW_DATABASE_PASSWORD: needs SWARMFLOW_DATABASE_URL set/);
  });
});
