import { decodeControlMessage, decodeTaskMessage, InvalidMessageError } from './task-message.decoder';
import { taskMessage } from './test-support/worker-harness';

describe('decodeTaskMessage', () => {
  it('accepts a valid message (string or array command)', () => {
    const task = taskMessage({ command: ['python', 'train.py'] });
    expect(decodeTaskMessage(JSON.parse(JSON.stringify(task)))).toEqual(task);
    expect(decodeTaskMessage(taskMessage({ command: 'echo hi' })).command).toBe('echo hi');
  });

  it.each([
    [{ tryNumber: 0 }, 'tryNumber'],
    [{ command: [] }, 'command'],
    [{ env: { A: 1 } }, 'env.A'],
    [{ timeoutMs: -1 }, 'timeoutMs'],
  ])('rejects %j naming the field', (override, field) => {
    const body = { ...taskMessage(), ...override };
    expect(() => decodeTaskMessage(body)).toThrow(InvalidMessageError);
    try {
      decodeTaskMessage(body);
    } catch (err) {
      expect((err as InvalidMessageError).field).toBe(field);
      expect((err as InvalidMessageError).message).toMatch(new RegExp(`^invalid task message: ${field.replace('.', '\\.')}: `));
    }
  });
});

describe('decodeTaskMessage of container tasks', () => {
  const docker = {
    image: 'trainer:1.4', pullPolicy: 'if-not-present', entrypoint: null, user: null, volumes: [], network: 'none', labels: {},
    registryCredentials: null, cpus: null, memoryBytes: null, gpus: 1, gpuMode: 'runtime', runtime: null, autoRemove: true,
    secretsPath: '/secrets/variables',
  } as const;

  it('keeps the container settings, sealed secrets and registry credentials; [] is the image\'s command', () => {
    const task = taskMessage({ kind: 'docker', command: [], docker: { ...docker, volumes: [] }, secrets: [{ key: 'db.pw', ciphertext: 'v1.a.b.c' }], registryAuth: 'v1.x.y.z' });
    expect(decodeTaskMessage(JSON.parse(JSON.stringify(task)))).toEqual(task);
  });

  it('keeps a cache check (the source try and its digest)', () => {
    const task = taskMessage({ kind: 'docker', command: [], docker: { ...docker, volumes: [] }, cacheKey: 'a'.repeat(64), cacheCheck: { tiId: 3, tryNumber: 1, digest: 'sha256:' + 'b'.repeat(64) } });
    expect(decodeTaskMessage(JSON.parse(JSON.stringify(task)))).toEqual(task);
  });

  it.each([
    [{ kind: 'docker', docker: null }, 'docker'],
    [{ kind: 'process', command: [] }, 'command'],
    [{ kind: 'docker', docker: { ...docker, gpus: -1 } }, 'docker.gpus'],
    [{ kind: 'docker', docker, secrets: [{ key: '../etc', ciphertext: 'x' }] }, 'secrets.0.key'],
    [{ kind: 'docker', docker, secrets: [{ key: '..', ciphertext: 'x' }] }, 'secrets.0.key'],
    [{ kind: 'docker', docker, cacheCheck: { tiId: 3, tryNumber: 0, digest: 'sha256:x' } }, 'cacheCheck.tryNumber'],
    [{ kind: 'docker', docker, cacheCheck: { tiId: 3, tryNumber: 1, digest: '' } }, 'cacheCheck.digest'],
  ])('rejects %j naming the field', (override, field) => {
    expect(() => decodeTaskMessage({ ...taskMessage(), ...override })).toThrow(expect.objectContaining({ field }));
  });
});

describe('decodeControlMessage', () => {
  it('accepts cancel and drain, rejects anything else', () => {
    expect(decodeControlMessage({ type: 'task.cancel', tiId: 1, tryNumber: 2 })).toEqual({ type: 'task.cancel', tiId: 1, tryNumber: 2 });
    expect(decodeControlMessage({ type: 'worker.drain', worker: 'w1' })).toEqual({ type: 'worker.drain', worker: 'w1' });
    expect(() => decodeControlMessage({ type: 'worker.explode' })).toThrow(/^invalid control message: type: /);
  });
});
