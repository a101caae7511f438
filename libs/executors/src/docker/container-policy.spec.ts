import { dockerSpec } from '../test-support/docker';
import { containerPolicyViolation, DEFAULT_CONTAINER_POLICY, type ContainerPolicy } from './container-policy';

const check = (docker: Parameters<typeof dockerSpec>[0], policy: Partial<ContainerPolicy> = {}) =>
  containerPolicyViolation(dockerSpec(docker), { ...DEFAULT_CONTAINER_POLICY, ...policy }, 'w1');

describe('containerPolicyViolation', () => {
  it('lets through what does not reach the host: named volumes, Docker networks, the default and nvidia runtimes', () => {
    expect(check({})).toBeNull();
    expect(check({ volumes: [{ source: 'cache', target: '/cache', readOnly: false }], network: 'bridge' })).toBeNull();
    expect(check({ runtime: 'nvidia' })).toBeNull();
    expect(check({ gpus: 1, gpuMode: 'runtime' })).toBeNull();
  });

  it.each([
    ['the Docker socket', '/var/run/docker.sock', /^volumes: host path \/var\/run\/docker\.sock \(the Docker socket: root on the host\) may not be mounted on worker w1\. Fix: its operator allows it with --allow-mounts \/var\/run\/docker\.sock/],
    ['/', '/', /^volumes: host path \/ \(the host's whole file system\) may not be mounted on worker w1\. Fix: its operator allows it with --allow-mounts any /],
    ['a data folder', '/data/in', /^volumes: host path \/data\/in may not be mounted on worker w1\. Fix: .*--allow-mounts \/data\/in \(SWARMFLOW_WORKER_ALLOW_MOUNTS/],
  ])('refuses a bind mount of %s by default, naming the option', (_what, source, message) => {
    expect(check({ volumes: [{ source, target: '/x', readOnly: true }] })).toMatch(message);
  });

  it('allows bind mounts under the allowed prefixes only, after normalizing the path', () => {
    const policy = { allowMounts: ['/data', '/scratch/'] };
    expect(check({ volumes: [{ source: '/data', target: '/x', readOnly: true }] }, policy)).toBeNull();
    expect(check({ volumes: [{ source: '/data/set/a', target: '/x', readOnly: true }] }, policy)).toBeNull();
    expect(check({ volumes: [{ source: '/scratch/tmp', target: '/x', readOnly: false }] }, policy)).toBeNull();
    expect(check({ volumes: [{ source: '/database', target: '/x', readOnly: true }] }, policy)).toMatch(/host path \/database may not/);
    expect(check({ volumes: [{ source: '/data/../etc', target: '/x', readOnly: true }] }, policy)).toMatch(/host path \/etc may not/);
    expect(check({ volumes: [{ source: '/var/run/docker.sock', target: '/x', readOnly: true }] }, { allowMounts: 'any' })).toBeNull();
  });

  it('never lets a task mount a Swarmflow secrets volume', () => {
    expect(check({ volumes: [{ source: 'swarmflow-secrets-7-1-abc', target: '/x', readOnly: true }] }, { allowMounts: 'any' }))
      .toMatch(/^volumes: "swarmflow-secrets-7-1-abc" is a Swarmflow secrets volume/);
  });

  it('refuses the host network and another container\'s namespace unless allowed', () => {
    expect(check({ network: 'host' })).toMatch(/^network: "host" shares a network namespace outside the container, which worker w1 does not allow\. Fix: its operator allows it with --allow-host-network/);
    expect(check({ network: 'container:db' })).toMatch(/--allow-host-network/);
    expect(check({ network: 'host' }, { allowHostNetwork: true })).toBeNull();
  });

  it('refuses a runtime off the allow-list, naming the list to set', () => {
    expect(check({ runtime: 'runsc' })).toBe('runtime: "runsc" is not among the runtimes worker w1 allows (nvidia). ' +
      'Fix: its operator adds it with --allow-runtimes nvidia,runsc (SWARMFLOW_WORKER_ALLOW_RUNTIMES)');
    expect(check({ runtime: 'runsc' }, { allowRuntimes: ['runsc'] })).toBeNull();
    expect(check({ runtime: 'anything' }, { allowRuntimes: 'any' })).toBeNull();
    expect(check({ gpus: 1, gpuMode: 'runtime' }, { allowRuntimes: [] })).toMatch(/^runtime: "nvidia" is not among the runtimes worker w1 allows \(none\)/);
  });
});
