import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BEGIN_MARKER, END_MARKER, parseInstanceGroups, renderWorkerServices, replaceWorkerServices } from './instance-groups';

const DEPLOY = path.resolve(__dirname, '../../../../deploy/swarm');

describe('instance groups', () => {
  const groups = parseInstanceGroups(readFileSync(path.join(DEPLOY, 'groups.yaml'), 'utf8'));

  it('reads the shipped groups.yaml: default and gpu', () => {
    expect(groups.map((g) => [g.name, g.queues, g.replicas, g.minReplicas, g.maxReplicas, g.placement, g.gpus])).toEqual([
      ['default', ['default'], 1, 1, 8, {}, 0],
      ['gpu', ['gpu'], 0, 0, 3, { 'swarmflow.group': 'gpu' }, 2],
    ]);
  });

  it('stack.yml holds exactly the services generated from groups.yaml (run `swarmflow deploy groups --write` after a change)', () => {
    const stack = readFileSync(path.join(DEPLOY, 'stack.yml'), 'utf8');
    expect(replaceWorkerServices(stack, groups)).toBe(stack);
    const block = stack.slice(stack.indexOf(BEGIN_MARKER) + BEGIN_MARKER.length + 1, stack.indexOf(END_MARKER));
    expect(block).toBe(`${renderWorkerServices(groups)}\n`);
  });

  it('renders a group with placement, limits and GPUs, and its autoscaling bounds as labels', () => {
    const [g] = parseInstanceGroups('groups:\n  - { name: bigmem, queues: [etl, bigmem], concurrency: 2, max_replicas: 3, placement: { node.type: r6i }, resources: { memory: 64G } }\n');
    const text = renderWorkerServices([g]);
    expect(text).toContain('  worker-bigmem:\n');
    expect(text).toContain('      SWARMFLOW_WORKER_QUEUES: etl,bigmem\n      SWARMFLOW_WORKER_CONCURRENCY: "2"\n');
    expect(text).toContain('        swarmflow.group.min-replicas: "0"\n        swarmflow.group.max-replicas: "3"\n');
    expect(text).toContain('        constraints: [node.labels.node.type == r6i]\n');
    expect(text).toContain('        limits:\n          memory: 64G');
    expect(text).not.toContain('generic_resources');
  });

  it('gives workers no database password and their secrets readable by root only; process tasks run unprivileged', () => {
    const [g] = parseInstanceGroups('groups:\n  - { name: default, queues: [default] }\n');
    const text = renderWorkerServices([g]);
    expect(text).toContain('      SWARMFLOW_DATABASE_PASSWORD_FILE: ""\n');
    expect(text).toContain('      SWARMFLOW_WORKER_RUN_AS_USER: swarmflow\n');
    expect(text).toContain('    secrets:\n      - { source: swarmflow_cluster_key, mode: 0400 }\n      - { source: swarmflow_rabbitmq_password, mode: 0400 }\n');
    expect(text).not.toContain('swarmflow_db_password');
    expect(text).not.toContain('*swarmflow-secrets');
  });

  it.each([
    ['groups: []\n', 'groups.yaml: groups must be a non-empty list of instance groups, e.g. groups: [{ name: default, queues: [default] }]'],
    ['groups:\n  - { name: GPU, queues: [gpu] }\n', 'groups.yaml: groups[0] (GPU).name must be lower-case letters, digits and -, e.g. gpu (the service is worker-<name>)'],
    ['groups:\n  - { name: gpu, queues: [] }\n', 'groups.yaml: groups[0] (gpu).queues must list queue topics (letters, digits, _ . -), e.g. [gpu]'],
    ['groups:\n  - { name: gpu, queues: [gpu], replicas: 5, max_replicas: 2 }\n', 'groups.yaml: groups[0] (gpu).replicas must lie between min_replicas and max_replicas (0..2)'],
    ['groups:\n  - { name: gpu, queues: [gpu], gpus: 1 }\n', 'groups.yaml: groups[0] (gpu).gpus is not a group setting: use name, queues, concurrency, replicas, min_replicas, max_replicas, placement, resources, stop_grace_period'],
    ['groups:\n  - { name: a, queues: [x] }\n  - { name: a, queues: [y] }\n', 'groups.yaml: groups[1] (a).name repeats the group a: names must be unique'],
  ])('refuses %j, naming the group and field', (text, message) => {
    expect(() => parseInstanceGroups(text)).toThrow(message);
  });

  it('reads the autoscaler provider of a group: swarm-service by default, simulated, or a command (argv, no shell)', () => {
    const [a, b, c] = parseInstanceGroups([
      'groups:',
      '  - { name: a, queues: [a] }',
      '  - { name: b, queues: [b], provider: simulated }',
      '  - { name: c, queues: [c], provider: { command: [/opt/scale.sh, --pool, "gpu nodes"] } }',
    ].join('\n'));
    expect([a.provider, b.provider, c.provider]).toEqual([
      { type: 'swarm-service' }, { type: 'simulated' }, { type: 'command', command: ['/opt/scale.sh', '--pool', 'gpu nodes'] },
    ]);
    expect(() => parseInstanceGroups('groups:\n  - { name: a, queues: [a], provider: k8s }\n')).toThrow(
      'groups.yaml: groups[0] (a).provider must be swarm-service, simulated, or { command: [/path/to/script, args…] } (run with the desired size as its last argument, no shell)',
    );
  });
});
