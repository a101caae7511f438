import { DockerError, toDockerError } from './docker-client';

describe('toDockerError', () => {
  it('keeps Docker\'s own message and the status code', () => {
    const err = Object.assign(new Error('(HTTP code 404) no such container - No such image: x:latest '), { statusCode: 404, json: { message: 'No such image: x:latest' } });
    expect(toDockerError('create container', err)).toEqual(new DockerError('create container', 404, 'No such image: x:latest'));
    expect(toDockerError('create container', err)).toMatchObject({ statusCode: 404, operation: 'create container' });
  });

  it('reads a message from a raw JSON body, and strips dockerode\'s prefix otherwise', () => {
    expect(toDockerError('x', { statusCode: 500, json: Buffer.from('{"message":"boom"}') }).message).toBe('boom');
    expect(toDockerError('x', Object.assign(new Error('(HTTP code 409) unexpected - conflict here'), { statusCode: 409 })).message).toBe('conflict here');
  });

  it('says when the engine cannot be reached', () => {
    const err = Object.assign(new Error('connect ENOENT /var/run/docker.sock'), { code: 'ENOENT' });
    expect(toDockerError('ping', err)).toMatchObject({ statusCode: null, message: 'cannot reach the Docker engine (ENOENT: connect ENOENT /var/run/docker.sock)' });
  });
});
