import { parseDocument } from 'yaml';

/**
 * An instance group: one Swarm worker service bound to queue topics, placed on the nodes
 * whose labels match, with its resources, concurrency and replica bounds (min/max are
 * recorded as service labels for the autoscaler; `replicas` is what the stack starts with).
 */
export interface InstanceGroup {
  name: string;
  queues: string[];
  concurrency: number;
  replicas: number;
  minReplicas: number;
  maxReplicas: number;
  /** Node labels a node must have, e.g. `{ "swarmflow.group": "gpu" }`. */
  placement: Record<string, string>;
  /** Limits per worker task. */
  cpus: string | null;
  memory: string | null;
  /** GPUs reserved per worker task (Swarm generic resource NVIDIA-GPU). */
  gpus: number;
  /** Seconds a stopping worker gets to finish its tasks before it is killed (its containers keep running). */
  stopGracePeriod: string;
  /** How the autoscaler resizes the group (default: the group's Swarm service). */
  provider: GroupProvider;
}

/**
 * How the autoscaler resizes a group: `swarm-service` (the replicas of its worker service),
 * `command` (a node group: the user's script is run with the desired size, nodes are drained
 * before removal) or `simulated` (tests and what-if runs).
 */
export type GroupProvider =
  | { type: 'swarm-service' }
  | { type: 'simulated' }
  | { type: 'command'; command: string[] };

/** A mistake in groups.yaml: which group and field, and how to fix it. */
export class InstanceGroupsError extends Error {
  override name = 'InstanceGroupsError';

  constructor(readonly file: string, readonly field: string, readonly problem: string) {
    super(`${file}: ${field} ${problem}`);
  }
}

const NAME = /^[a-z0-9][a-z0-9-]*$/;
const QUEUE = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;
const LABEL = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const KEYS = ['name', 'queues', 'concurrency', 'replicas', 'min_replicas', 'max_replicas', 'placement', 'resources', 'stop_grace_period', 'provider'];
const RESOURCE_KEYS = ['cpus', 'memory', 'gpus'];

/**
 * Reads groups.yaml: `groups:` a list of `{ name, queues, concurrency, replicas, min_replicas,
 * max_replicas, placement: { <node label>: <value> }, resources: { cpus, memory, gpus },
 * stop_grace_period }`. Pure: the caller reads the file.
 * @throws InstanceGroupsError naming the group and the field.
 */
export function parseInstanceGroups(text: string, file = 'groups.yaml'): InstanceGroup[] {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new InstanceGroupsError(file, 'YAML', `cannot be read: ${doc.errors[0].message}`);
  const root = doc.toJS() as { groups?: unknown } | null;
  if (!root || !Array.isArray(root.groups) || root.groups.length === 0) {
    throw new InstanceGroupsError(file, 'groups', 'must be a non-empty list of instance groups, e.g. groups: [{ name: default, queues: [default] }]');
  }
  const seen = new Set<string>();
  return root.groups.map((raw: unknown, i: number) => {
    const at = (field: string) => `groups[${i}]${typeof (raw as { name?: unknown })?.name === 'string' ? ` (${(raw as { name: string }).name})` : ''}.${field}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InstanceGroupsError(file, `groups[${i}]`, 'must be a mapping with name and queues');
    const g = raw as Record<string, unknown>;
    const unknown = Object.keys(g).find((k) => !KEYS.includes(k));
    if (unknown) throw new InstanceGroupsError(file, at(unknown), `is not a group setting: use ${KEYS.join(', ')}`);
    if (typeof g.name !== 'string' || !NAME.test(g.name)) throw new InstanceGroupsError(file, at('name'), 'must be lower-case letters, digits and -, e.g. gpu (the service is worker-<name>)');
    if (seen.has(g.name)) throw new InstanceGroupsError(file, at('name'), `repeats the group ${g.name}: names must be unique`);
    seen.add(g.name);
    if (!Array.isArray(g.queues) || g.queues.length === 0 || g.queues.some((q) => typeof q !== 'string' || !QUEUE.test(q))) {
      throw new InstanceGroupsError(file, at('queues'), 'must list queue topics (letters, digits, _ . -), e.g. [gpu]');
    }
    const int = (field: string, fallback: number, min: number): number => {
      const v = g[field] ?? fallback;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new InstanceGroupsError(file, at(field), `must be a whole number ≥ ${min} (got ${JSON.stringify(v)})`);
      return v;
    };
    const concurrency = int('concurrency', 4, 1);
    const minReplicas = int('min_replicas', 0, 0);
    const maxReplicas = int('max_replicas', Math.max(minReplicas, 1), Math.max(minReplicas, 1));
    const replicas = int('replicas', minReplicas, minReplicas);
    if (replicas > maxReplicas) throw new InstanceGroupsError(file, at('replicas'), `must lie between min_replicas and max_replicas (${minReplicas}..${maxReplicas})`);
    const placement = (g.placement ?? {}) as Record<string, unknown>;
    if (typeof placement !== 'object' || Array.isArray(placement)) throw new InstanceGroupsError(file, at('placement'), 'must map node labels to values, e.g. { swarmflow.group: gpu }');
    for (const [k, v] of Object.entries(placement)) {
      if (!LABEL.test(k) || (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')) {
        throw new InstanceGroupsError(file, at(`placement.${k}`), 'must be a node label with a plain value, e.g. swarmflow.group: gpu');
      }
    }
    const resources = (g.resources ?? {}) as Record<string, unknown>;
    const badResource = Object.keys(resources).find((k) => !RESOURCE_KEYS.includes(k));
    if (badResource) throw new InstanceGroupsError(file, at(`resources.${badResource}`), `is not a resource: use ${RESOURCE_KEYS.join(', ')}`);
    const gpus = resources.gpus ?? 0;
    if (typeof gpus !== 'number' || !Number.isInteger(gpus) || gpus < 0) throw new InstanceGroupsError(file, at('resources.gpus'), 'must be a whole number of GPUs');
    const text = (v: unknown, field: string, pattern: RegExp, example: string): string | null => {
      if (v === undefined || v === null) return null;
      if (!pattern.test(String(v))) throw new InstanceGroupsError(file, at(field), `must look like ${example} (got ${JSON.stringify(v)})`);
      return String(v);
    };
    const provider = ((): GroupProvider => {
      const p = g.provider ?? 'swarm-service';
      if (p === 'swarm-service' || p === 'simulated') return { type: p };
      const command = typeof p === 'object' && p !== null ? (p as { command?: unknown }).command : undefined;
      if (Array.isArray(command) && command.length > 0 && command.every((c) => typeof c === 'string' && c.length > 0)
        && Object.keys(p as object).every((k) => k === 'command')) {
        return { type: 'command', command: command as string[] };
      }
      throw new InstanceGroupsError(file, at('provider'), 'must be swarm-service, simulated, or { command: [/path/to/script, args…] } (run with the desired size as its last argument, no shell)');
    })();
    return {
      provider,
      name: g.name, queues: g.queues as string[], concurrency, replicas, minReplicas, maxReplicas,
      placement: Object.fromEntries(Object.entries(placement).map(([k, v]) => [k, String(v)])),
      cpus: text(resources.cpus, 'resources.cpus', /^\d+(\.\d+)?$/, '"2" or "0.5"'),
      memory: text(resources.memory, 'resources.memory', /^\d+[KMG]?$/i, '2G or 512M'),
      gpus,
      stopGracePeriod: text(g.stop_grace_period, 'stop_grace_period', /^\d+(ms|s|m|h)$/, '2m or 90s') ?? '2m',
    };
  });
}

/** The markers around the generated worker services in stack.yml. */
export const BEGIN_MARKER = '  # BEGIN instance groups: generated by `swarmflow deploy groups --write` from deploy/swarm/groups.yaml';
export const END_MARKER = '  # END instance groups';

/** The worker services of the groups, as stack.yml holds them between the markers (without them). */
export function renderWorkerServices(groups: readonly InstanceGroup[]): string {
  return groups.map((g, i) => {
    const lines = [
      `  worker-${g.name}:`,
      '    image: ${SWARMFLOW_IMAGE:-swarmflow:latest}',
      '    command: ["worker"]',
      ...(i === 0 ? ['    # Container tasks are sibling containers started through the host\'s Docker socket (root on the host anyway).'] : []),
      '    user: root',
      '    environment:',
      '      <<: *swarmflow-env',
      `      SWARMFLOW_WORKER_QUEUES: ${g.queues.join(',')}`,
      `      SWARMFLOW_WORKER_CONCURRENCY: "${g.concurrency}"`,
      ...(i === 0 ? ['      # Stable per Swarm slot: a replaced worker re-adopts the containers its slot left running.'] : []),
      '      SWARMFLOW_WORKER_NAME: "{{.Service.Name}}.{{.Task.Slot}}"',
      ...(g.gpus === 0 ? ['      SWARMFLOW_WORKER_GPUS: none'] : []),
      ...(i === 0 ? ['      # Workers hold no database credentials; process tasks run as the image\'s unprivileged user,', '      # so the secrets below (root, mode 0400) are out of their reach.'] : []),
      '      SWARMFLOW_DATABASE_PASSWORD_FILE: ""',
      '      SWARMFLOW_WORKER_RUN_AS_USER: swarmflow',
      ...(i === 0 ? ['      # The stop_grace_period below: the worker hands its containers over before it runs out (SWARMFLOW_WORKER_STOP_GRACE overrides both).'] : []),
      `      SWARMFLOW_WORKER_STOP_GRACE: \${SWARMFLOW_WORKER_STOP_GRACE:-${g.stopGracePeriod}}`,
      '    secrets:',
      '      - { source: swarmflow_cluster_key, mode: 0400 }',
      '      - { source: swarmflow_rabbitmq_password, mode: 0400 }',
      '    volumes:',
      '      - type: bind',
      '        source: /var/run/docker.sock',
      '        target: /var/run/docker.sock',
      ...(i === 0 ? ['    # SIGTERM: stop taking tasks and finish the running ones; containers still running near the end', '    # of this period are handed over (left running) to the slot\'s next worker, which re-adopts them.'] : []),
      `    stop_grace_period: \${SWARMFLOW_WORKER_STOP_GRACE:-${g.stopGracePeriod}}`,
      '    deploy:',
      `      replicas: ${g.replicas}`,
      ...(i === 0 ? ['      # on-failure: a worker the autoscaler drained and shut down exits 0 and stays down, so lowering replicas removes that slot.'] : []),
      '      restart_policy: *worker-restart',
      '      update_config:',
      '        parallelism: 1',
      '        order: stop-first',
      '      labels:',
      `        swarmflow.group: ${g.name}`,
      `        swarmflow.group.queues: ${g.queues.join(',')}`,
      `        swarmflow.group.min-replicas: "${g.minReplicas}"`,
      `        swarmflow.group.max-replicas: "${g.maxReplicas}"`,
    ];
    const constraints = Object.entries(g.placement).map(([k, v]) => `node.labels.${k} == ${v}`);
    if (constraints.length > 0) lines.push('      placement:', `        constraints: [${constraints.join(', ')}]`);
    const limits = [...(g.cpus ? [`          cpus: "${g.cpus}"`] : []), ...(g.memory ? [`          memory: ${g.memory}`] : [])];
    if (limits.length > 0 || g.gpus > 0) {
      lines.push('      resources:');
      if (limits.length > 0) lines.push('        limits:', ...limits);
      if (g.gpus > 0) {
        lines.push('        reservations:', '          generic_resources:', `            - discrete_resource_spec: { kind: NVIDIA-GPU, value: ${g.gpus} }`);
      }
    }
    return lines.join('\n');
  }).join('\n\n');
}

/**
 * stack.yml with the text between the markers replaced by the groups' services.
 * @throws Error when the markers are missing.
 */
export function replaceWorkerServices(stack: string, groups: readonly InstanceGroup[], file = 'stack.yml'): string {
  const begin = stack.indexOf(BEGIN_MARKER);
  const end = stack.indexOf(END_MARKER);
  if (begin === -1 || end === -1 || end < begin) {
    throw new Error(`${file} has no "# BEGIN instance groups" … "# END instance groups" lines under services: to replace. Fix: add them where the worker services go`);
  }
  return `${stack.slice(0, begin)}${BEGIN_MARKER}\n${renderWorkerServices(groups)}\n${stack.slice(end)}`;
}
