import { dockerSpec } from '../test-support/docker';
import { containerCommand, containerCreateOptions, installationOf, LABELS, ofInstallation, secretOwner, taskLabels, type ContainerSpec } from './container-options';

function spec(overrides: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    docker: dockerSpec({ image: 'trainer:1.4' }), command: 'python train.py', env: { A: '1' }, cwd: null, timeoutMs: null,
    labels: taskLabels({ worker: 'w1', tiId: 42, tryNumber: 2, dagId: 'd', runId: 'r', taskId: 't' }), ...overrides,
  };
}

describe('containerCommand', () => {
  it('runs a string through /bin/sh -c, keeps an argv, and leaves [] to the image', () => {
    expect(containerCommand('echo $HOME')).toEqual(['/bin/sh', '-c', 'echo $HOME']);
    expect(containerCommand(['python', 'a b'])).toEqual(['python', 'a b']);
    expect(containerCommand([])).toBeUndefined();
  });
});

describe('containerCreateOptions', () => {
  it('builds a minimal container: no network, no auto-removal, no new privileges, a pids limit, the try\'s labels', () => {
    expect(containerCreateOptions(spec(), { name: 'c1', secretsVolume: null })).toEqual({
      name: 'c1',
      Image: 'trainer:1.4',
      Cmd: ['/bin/sh', '-c', 'python train.py'],
      Env: ['A=1'],
      Labels: {
        'swarmflow.installation': 'swarmflow', 'swarmflow.worker': 'w1', 'swarmflow.ti_id': '42', 'swarmflow.try': '2', 'swarmflow.dag_id': 'd', 'swarmflow.run_id': 'r',
        'swarmflow.task_id': 't', 'swarmflow.role': 'task', 'swarmflow.auto_remove': 'true',
      },
      HostConfig: { NetworkMode: 'none', AutoRemove: false, Mounts: [], SecurityOpt: ['no-new-privileges:true'], PidsLimit: 4096 },
    });
  });

  it('drops the hardening only when asked (a worker run with --allow-privileged, --pids-limit 0)', () => {
    const host = containerCreateOptions(spec({ noNewPrivileges: false, pidsLimit: 0 }), { secretsVolume: null }).HostConfig!;
    expect(host.SecurityOpt).toBeUndefined();
    expect(host.PidsLimit).toBeUndefined();
    expect(containerCreateOptions(spec({ pidsLimit: 100 }), { secretsVolume: null }).HostConfig!.PidsLimit).toBe(100);
  });

  it('maps every container setting', () => {
    const options = containerCreateOptions(spec({
      cwd: '/work',
      docker: dockerSpec({
        image: 'trainer:1.4', entrypoint: ['/entry'], user: '1000:1000', network: 'bridge', cpus: 1.5, memoryBytes: 2 ** 30,
        labels: { team: 'ml', 'swarmflow.worker': 'spoofed', 'swarmflow.installation': 'spoofed' }, autoRemove: false,
        volumes: [{ source: '/data', target: '/in', readOnly: true }, { source: 'cache', target: '/cache', readOnly: false }],
      }),
    }), { secretsVolume: 'vol1' });
    expect(options).toMatchObject({
      Entrypoint: ['/entry'], User: '1000:1000', WorkingDir: '/work',
      Labels: { team: 'ml', 'swarmflow.worker': 'w1', 'swarmflow.installation': 'swarmflow', 'swarmflow.auto_remove': 'false', 'swarmflow.secrets_volume': 'vol1' },
      HostConfig: {
        NetworkMode: 'bridge', AutoRemove: false, NanoCpus: 1_500_000_000, Memory: 2 ** 30,
        Mounts: [
          { Type: 'bind', Source: '/data', Target: '/in', ReadOnly: true },
          { Type: 'volume', Source: 'cache', Target: '/cache', ReadOnly: false },
          { Type: 'volume', Source: 'vol1', Target: '/secrets/variables', ReadOnly: true },
        ],
      },
    });
    expect(options.name).toBeUndefined();
  });

  it('asks for the assigned GPUs by device request', () => {
    const options = containerCreateOptions(spec({ docker: dockerSpec({ gpus: 2, gpuMode: 'device-request' }), gpuIds: ['1', '3'] }), { secretsVolume: null });
    expect(options.HostConfig!.DeviceRequests).toEqual([{ Driver: 'nvidia', DeviceIDs: ['1', '3'], Capabilities: [['gpu']] }]);
    expect(options.HostConfig!.Runtime).toBeUndefined();
    expect(options.Env).toContain('NVIDIA_VISIBLE_DEVICES=1,3');
  });

  it('uses the nvidia runtime (or the task\'s runtime) with NVIDIA_VISIBLE_DEVICES in runtime mode', () => {
    const env = { NVIDIA_VISIBLE_DEVICES: 'all' };
    const nvidia = containerCreateOptions(spec({ env, docker: dockerSpec({ gpus: 1, gpuMode: 'runtime' }), gpuIds: ['2'] }), { secretsVolume: null });
    expect(nvidia.HostConfig).toMatchObject({ Runtime: 'nvidia' });
    expect(nvidia.HostConfig!.DeviceRequests).toBeUndefined();
    expect(nvidia.Env).toEqual(['NVIDIA_VISIBLE_DEVICES=2']);
    const custom = containerCreateOptions(spec({ docker: dockerSpec({ gpus: 1, gpuMode: 'runtime', runtime: 'nvidia-experimental' }), gpuIds: ['0'] }), { secretsVolume: null });
    expect(custom.HostConfig!.Runtime).toBe('nvidia-experimental');
  });

  it('hides the host\'s GPUs from a task that asks for none, unless its env says otherwise', () => {
    expect(containerCreateOptions(spec({ env: {}, hideGpus: true }), { secretsVolume: null }).Env).toEqual(['NVIDIA_VISIBLE_DEVICES=void']);
    expect(containerCreateOptions(spec({ env: { NVIDIA_VISIBLE_DEVICES: 'none' }, hideGpus: true }), { secretsVolume: null }).Env).toEqual(['NVIDIA_VISIBLE_DEVICES=none']);
    expect(containerCreateOptions(spec({ env: {} }), { secretsVolume: null }).Env).toEqual([]);
  });
});

describe('installations', () => {
  it('names one after its broker prefix as its exchanges are named: no prefix is the default installation', () => {
    expect(installationOf(undefined)).toBe('swarmflow');
    expect(installationOf('')).toBe('swarmflow');
    expect(installationOf('ci-1.')).toBe('ci-1.swarmflow');
    // A prefix spelling the default's name is still another installation.
    expect(installationOf('swarmflow')).toBe('swarmflowswarmflow');
    expect(taskLabels({ installation: 'ci-1.swarmflow', worker: 'w1', tiId: 1, tryNumber: 1, dagId: 'd', runId: 'r', taskId: 't' })[LABELS.installation]).toBe('ci-1.swarmflow');
  });

  it('gives a container to the installation its label names, and one without the label (an older version\'s) to the default one only', () => {
    const of = (installation: string | null): Record<string, string> => (installation === null ? { [LABELS.worker]: 'w1' } : { [LABELS.installation]: installation });
    expect(ofInstallation(of('ci-1.swarmflow'), 'ci-1.swarmflow')).toBe(true);
    expect(ofInstallation(of('ci-1.swarmflow'), 'swarmflow')).toBe(false);
    expect(ofInstallation(of('swarmflow'), 'ci-1.swarmflow')).toBe(false);
    expect(ofInstallation(of(null), 'swarmflow')).toBe(true);
    expect(ofInstallation(of(null), 'ci-1.swarmflow')).toBe(false);
  });
});

describe('secretOwner', () => {
  it('gives the files to a numeric user, mode 0400', () => {
    expect(secretOwner(null)).toEqual({ uid: 0, gid: 0, fileMode: 0o400, readableByAll: false });
    expect(secretOwner('1000')).toEqual({ uid: 1000, gid: 1000, fileMode: 0o400, readableByAll: false });
    expect(secretOwner('1000:50')).toEqual({ uid: 1000, gid: 50, fileMode: 0o400, readableByAll: false });
  });

  it('makes them readable by all for a user given by name (resolved only inside the image)', () => {
    expect(secretOwner('app')).toEqual({ uid: 0, gid: 0, fileMode: 0o444, readableByAll: true });
    expect(secretOwner('1000:staff')).toEqual({ uid: 0, gid: 0, fileMode: 0o444, readableByAll: true });
  });
});
