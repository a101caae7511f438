import {
  DagValidationError, suggestName, validateDag,
  type DagInput, type FieldSpelling, type SerializedDag, type TaskInput,
} from '@swarmflow/core';
import { Document, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Node, type Pair, type YAMLMap } from 'yaml';

/** YAML key -> DagInput key, per section. Order = the order shown in "allowed keys". */
const DAG_KEYS: Record<string, keyof DagInput> = {
  id: 'id', description: 'description', schedule: 'schedule', catchup: 'catchup', start_date: 'startDate',
  max_active_runs: 'maxActiveRuns', max_active_tasks: 'maxActiveTasks', params: 'params', defaults: 'defaults',
  tags: 'tags', cache_namespace: 'cacheNamespace', tasks: 'tasks',
};
const DEFAULT_KEYS: Record<string, string> = {
  retries: 'retries', retry_delay: 'retryDelay', retry_backoff: 'retryBackoff', max_retry_delay: 'maxRetryDelay',
  timeout: 'timeout', queue: 'queue', priority: 'priority', pool: 'pool', pool_slots: 'poolSlots',
  trigger_rule: 'triggerRule', skip_exit_code: 'skipExitCode', env: 'env', cwd: 'cwd', cache: 'cache', cache_ttl: 'cacheTtl',
};
const TASK_KEYS: Record<string, string> = {
  shell: 'command', command: 'command', docker: 'docker', secrets: 'secrets', upstream: 'upstream', kind: 'kind', ...DEFAULT_KEYS,
};
/** `command` inside `docker:` is the task's command (the container's). */
const DOCKER_KEYS: Record<string, string> = {
  image: 'image', command: 'command', entrypoint: 'entrypoint', pull_policy: 'pullPolicy', user: 'user', volumes: 'volumes',
  network: 'network', labels: 'labels', registry_credentials: 'registryCredentials', resources: 'resources',
  gpu_mode: 'gpuMode', runtime: 'runtime', auto_remove: 'autoRemove', secrets_path: 'secretsPath',
};
const RESOURCES_KEYS: Record<string, string> = { cpus: 'cpus', memory: 'memory', gpus: 'gpus' };
const VOLUME_KEYS: Record<string, string> = { source: 'source', target: 'target', read_only: 'readOnly' };
const PARAM_KEYS: Record<string, string> = {
  type: 'type', default: 'default', description: 'description', enum: 'enum', minimum: 'minimum', maximum: 'maximum',
  min_length: 'minLength', max_length: 'maxLength', pattern: 'pattern',
};

/** Airflow's names of settings that Swarmflow's YAML spells otherwise, for "did you mean". */
const AIRFLOW_KEYS: Readonly<Record<string, string>> = {
  schedule_interval: 'schedule', default_args: 'defaults', doc_md: 'description', dag_id: 'id',
  execution_timeout: 'timeout', retry_exponential_backoff: 'retry_backoff', priority_weight: 'priority',
  bash_command: 'shell', depends_on: 'upstream',
};

/** One YAML DAG, where its fields are (to put line numbers on validation errors) and how it spells them. */
interface ParsedYamlDag {
  input: DagInput;
  /** `${taskId ?? ''}\u0000${field as written in YAML}` -> 1-based line. */
  lines: Map<string, number>;
  line: number;
  spelling: FieldSpelling;
}

/**
 * Where a field path of the SDK leads in YAML: the YAML name of each key and the section
 * under it. Below a key without a section (env, labels, entrypoint…) names are the user's.
 */
interface YamlSection {
  /** camelCase key -> YAML key. */
  keys?: Record<string, string>;
  below?: Record<string, YamlSection>;
  /** The section of each item of a list. */
  item?: YamlSection;
  /** Every key is a name the user chose (a param's), holding this section. */
  each?: YamlSection;
}

const yamlNames = (keys: Record<string, string>) =>
  Object.fromEntries(Object.entries(keys).filter(([yamlKey]) => yamlKey !== 'shell').map(([yamlKey, key]) => [key, yamlKey]));
const AS_WRITTEN: YamlSection = {};
const DOCKER_SECTION: YamlSection = {
  keys: yamlNames(DOCKER_KEYS),
  below: { resources: { keys: yamlNames(RESOURCES_KEYS) }, volumes: { item: { keys: yamlNames(VOLUME_KEYS) } } },
};
const TASK_SECTION: YamlSection = { keys: yamlNames(TASK_KEYS), below: { docker: DOCKER_SECTION } };
const DAG_SECTION: YamlSection = {
  keys: yamlNames(DAG_KEYS),
  below: { defaults: { keys: yamlNames(DEFAULT_KEYS) }, params: { each: { keys: yamlNames(PARAM_KEYS) } } },
};

/** `docker.volumes[0].readOnly` -> `docker.volumes[0].read_only`; `params.startDate.minLength` -> `params.startDate.min_length`. */
function inYaml(field: string, section: YamlSection): string {
  let out = '';
  let at = section;
  for (const part of field.match(/\[\d+\]|[^.[\]]+/g) ?? []) {
    if (part.startsWith('[')) {
      out += part;
      at = at.item ?? AS_WRITTEN;
      continue;
    }
    out += (out === '' ? '' : '.') + (at.each ? part : (at.keys?.[part] ?? part));
    at = at.each ?? at.below?.[part] ?? AS_WRITTEN;
  }
  return out;
}

const lineKey = (taskId: string | null, field: string | null) => `${taskId ?? ''}\u0000${field ?? ''}`;

/** `docker.volumes[1].target` -> `docker.volumes[1]` -> `docker.volumes` -> `docker` -> ''. */
function parentField(field: string): string {
  const parent = field.replace(/(?:\.[^.[\]]+|\[\d+\])$/, '');
  return parent === field ? '' : parent;
}

class YamlDagReader {
  readonly lines = new Map<string, number>();
  dagId: string | null = null;
  /** Task id -> the key that holds its command: `shell`, `command` or `docker.command`. */
  private readonly commandKeys = new Map<string, string>();
  /** The task ids as written, in order (a task's id is its key under `tasks`). */
  private readonly taskKeys: string[] = [];

  constructor(
    private readonly file: string,
    private readonly doc: Document.Parsed,
    private readonly counter: LineCounter,
  ) {}

  lineOf(node: Node | null | undefined): number | null {
    const offset = node?.range?.[0];
    return offset === undefined ? null : this.counter.linePos(offset).line;
  }

  fail(node: Node | null | undefined, taskId: string | null, field: string | null, problem: string, fix: string): never {
    throw new DagValidationError({ file: this.file, dagId: this.dagId, taskId, field, line: this.lineOf(node) }, problem, fix);
  }

  js(node: unknown): unknown {
    if (node === null || node === undefined) return null;
    return (node as Node).toJS(this.doc);
  }

  /** The pairs of a mapping, each with its camelCase key; unknown keys are errors (field = `fieldPrefix` + the key). */
  entries(map: YAMLMap, section: string, keys: Record<string, string>, taskId: string | null, fieldPrefix = ''): { key: string; yamlKey: string; pair: Pair<Node, Node | null> }[] {
    return (map.items as Pair<Node, Node | null>[]).map((pair) => {
      const yamlKey = isScalar(pair.key) ? String(pair.key.value) : String(this.js(pair.key));
      const key = keys[yamlKey];
      if (key === undefined) {
        const airflow = Object.hasOwn(AIRFLOW_KEYS, yamlKey) && Object.hasOwn(keys, AIRFLOW_KEYS[yamlKey]) ? AIRFLOW_KEYS[yamlKey] : null;
        const near = suggestName(yamlKey, Object.keys(keys));
        const hint = airflow ? `did you mean "${airflow}" (Airflow's ${yamlKey} is Swarmflow's ${airflow})? `
          : yamlKey === 'image' && Object.hasOwn(keys, 'docker') ? 'did you mean "docker"? a task\'s image goes inside docker: { image: … }; '
          : near ? `did you mean "${near}"? ` : '';
        this.fail(pair.key, taskId, fieldPrefix + yamlKey, `unknown ${section} key "${yamlKey}"`, `${hint}use only ${Object.keys(keys).join(', ')}`);
      }
      return { key, yamlKey, pair };
    });
  }

  /** A field of this DAG (an SDK path) as its YAML spells it. */
  readonly spelling: FieldSpelling = (field, taskId) => {
    if (taskId === null) {
      const taskKey = /^tasks\[(\d+)\]\.id$/.exec(field);
      return taskKey ? `tasks.${this.taskKeys[Number(taskKey[1])]}` : inYaml(field, DAG_SECTION);
    }
    if (/^command(?:\[|$)/.test(field)) return (this.commandKeys.get(taskId) ?? 'command') + field.slice('command'.length);
    return inYaml(field, TASK_SECTION);
  };

  setLine(taskId: string | null, field: string, node: Node | null | undefined): void {
    const line = this.lineOf(node);
    if (line !== null) this.lines.set(lineKey(taskId, field), line);
  }

  /** Records the line of each item of a list value as `${field}[i]`. */
  itemLines(taskId: string | null, field: string, node: Node | null): void {
    if (isSeq(node)) node.items.forEach((item, i) => this.setLine(taskId, `${field}[${i}]`, item as Node));
  }

  /** Records the line of each key of a mapping value (env) as `${field}.${key}`. */
  keyLines(taskId: string | null, field: string, node: Node | null): void {
    if (isMap(node)) for (const pair of node.items as Pair<Node, Node | null>[]) this.setLine(taskId, `${field}.${String(this.js(pair.key))}`, pair.key);
  }

  mapping(node: Node | null, what: string, taskId: string | null, field: string | null, fix: string): YAMLMap {
    if (!isMap(node)) this.fail(node, taskId, field, `${what} must be a mapping (got ${JSON.stringify(this.js(node))})`, fix);
    return node as YAMLMap;
  }

  readSettings(map: YAMLMap, section: string, keys: Record<string, string>, taskId: string | null, prefix: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    let commandKey: string | null = null;
    for (const { key, yamlKey, pair } of this.entries(map, section, keys, taskId, prefix)) {
      this.setLine(taskId, prefix + yamlKey, pair.key);
      // `shell`/`command` make a process task; a container's command sits inside `docker:`.
      const clash = key === 'docker' ? commandKey : key === 'command' && out.docker !== undefined ? yamlKey : null;
      if (clash !== null) {
        this.fail(pair.key, taskId, yamlKey, `task has both "${clash}" and "docker"`, `keep one: "${clash}" runs a process on the worker; a container's command goes inside docker: { image: …, command: [...] }`);
      }
      if (key === 'docker') {
        const { docker, command } = this.readDocker(pair.value, taskId);
        out.docker = docker;
        if (command !== undefined) out.command = command;
        continue;
      }
      if (key === 'command' && out.command !== undefined) {
        this.fail(pair.key, taskId, yamlKey, `task has both "shell" and "command"`, 'keep one: "shell" for a shell string, "command" for a string or an argv list');
      }
      let value = this.js(pair.value);
      if (yamlKey === 'shell' && typeof value !== 'string') {
        this.fail(pair.value ?? pair.key, taskId, 'shell', `shell must be a string (got ${JSON.stringify(value)})`, 'quote the command, or use "command:" with a list for argv');
      }
      if (key === 'command') {
        commandKey = yamlKey;
        if (taskId !== null) this.commandKeys.set(taskId, yamlKey);
        this.itemLines(taskId, yamlKey, pair.value);
      }
      if ((key === 'upstream' || key === 'secrets') && typeof value === 'string') value = [value];
      if (key === 'secrets') this.itemLines(taskId, 'secrets', pair.value);
      if (key === 'env') this.keyLines(taskId, `${prefix}env`, pair.value);
      out[key] = value;
    }
    return out;
  }

  /** A task's `docker:` block: the container settings, and the command it holds (if any). */
  readDocker(node: Node | null, taskId: string | null): { docker: Record<string, unknown>; command?: unknown } {
    const map = this.mapping(node, 'docker', taskId, 'docker', 'use e.g. docker: { image: "python:3.12-slim", command: [python, run.py] }');
    const docker: Record<string, unknown> = {};
    let command: unknown;
    for (const { key, yamlKey, pair } of this.entries(map, 'docker', DOCKER_KEYS, taskId, 'docker.')) {
      const field = `docker.${yamlKey}`;
      this.setLine(taskId, field, pair.key);
      if (key === 'command' || key === 'entrypoint') this.itemLines(taskId, field, pair.value);
      if (key === 'command') {
        command = this.js(pair.value);
        if (taskId !== null) this.commandKeys.set(taskId, field);
      } else if (key === 'resources') {
        const resources = this.mapping(pair.value, 'docker.resources', taskId, field, 'use e.g. resources: { cpus: 2, memory: 8g, gpus: 1 }');
        const values: Record<string, unknown> = {};
        for (const { key: k, yamlKey: y, pair: p } of this.entries(resources, 'resources', RESOURCES_KEYS, taskId, `${field}.`)) {
          this.setLine(taskId, `${field}.${y}`, p.key);
          values[k] = this.js(p.value);
        }
        docker.resources = values;
      } else if (key === 'volumes') docker.volumes = this.readVolumes(pair.value, taskId);
      else docker[key] = this.js(pair.value);
    }
    return { docker, command };
  }

  /** `volumes:` items are `src:dst[:ro]` strings or { source, target, read_only } mappings. */
  readVolumes(node: Node | null, taskId: string | null): unknown {
    if (!isSeq(node)) return this.js(node);
    this.itemLines(taskId, 'docker.volumes', node);
    return node.items.map((item, i) => {
      if (!isMap(item)) return this.js(item);
      const field = `docker.volumes[${i}]`;
      const volume: Record<string, unknown> = {};
      for (const { key, yamlKey, pair } of this.entries(item, 'volume', VOLUME_KEYS, taskId, `${field}.`)) {
        this.setLine(taskId, `${field}.${yamlKey}`, pair.key);
        volume[key] = this.js(pair.value);
      }
      return volume;
    });
  }

  readDag(root: Node | null): DagInput {
    const top = this.mapping(root, 'a DAG document', null, null, 'write a mapping with id, schedule, tasks, ...');
    const idPair = (top.items as Pair<Node, Node | null>[]).find((p) => isScalar(p.key) && p.key.value === 'id');
    const id = idPair ? this.js(idPair.value) : undefined;
    if (typeof id === 'string') this.dagId = id;
    const input: Record<string, unknown> = {};
    for (const { key, yamlKey, pair } of this.entries(top, 'DAG', DAG_KEYS, null)) {
      this.setLine(null, yamlKey, pair.key);
      if (key === 'params') input.params = this.readParams(pair.value);
      else if (key === 'defaults') {
        const map = this.mapping(pair.value, 'defaults', null, 'defaults', 'use e.g. defaults: { retries: 2 }');
        input.defaults = this.readSettings(map, 'defaults', DEFAULT_KEYS, null, 'defaults.');
      } else if (key === 'tasks') input.tasks = this.readTasks(pair.value);
      else input[key] = this.js(pair.value);
    }
    if (!Array.isArray(input.tasks) || input.tasks.length === 0) {
      this.fail(input.tasks === undefined ? root : this.valueOf(top, 'tasks'), null, 'tasks', 'the DAG has no tasks', 'add tasks, e.g. tasks: { extract: { shell: "extract.sh" } }');
    }
    return input as unknown as DagInput;
  }

  /** The value node of `key` in a mapping. */
  valueOf(map: YAMLMap, key: string): Node | null {
    return (map.items as Pair<Node, Node | null>[]).find((p) => isScalar(p.key) && p.key.value === key)?.value ?? null;
  }

  readParams(node: Node | null): Record<string, unknown> {
    const map = this.mapping(node, 'params', null, 'params', 'use e.g. params: { region: { type: string, default: eu } }');
    const out: Record<string, unknown> = {};
    for (const pair of map.items as Pair<Node, Node | null>[]) {
      const name = String(this.js(pair.key));
      const field = `params.${name}`;
      this.setLine(null, field, pair.key);
      const spec = this.mapping(pair.value, field, null, field, `use e.g. ${name}: { type: string, default: x }`);
      const values: Record<string, unknown> = {};
      for (const { key, yamlKey, pair: p } of this.entries(spec, `param "${name}"`, PARAM_KEYS, null, `${field}.`)) {
        this.setLine(null, `${field}.${yamlKey}`, p.key);
        values[key] = this.js(p.value);
      }
      out[name] = values;
    }
    return out;
  }

  readTasks(node: Node | null): TaskInput[] {
    const map = this.mapping(node, 'tasks', null, 'tasks', 'use e.g. tasks: { extract: { shell: "extract.sh" } }');
    return (map.items as Pair<Node, Node | null>[]).map((pair, index) => {
      const id = this.js(pair.key);
      const taskId = typeof id === 'string' ? id : String(id);
      this.taskKeys[index] = taskId;
      const line = this.lineOf(pair.key);
      if (line !== null) {
        this.lines.set(lineKey(taskId, null), line);
        this.lines.set(lineKey(null, `tasks.${taskId}`), line);
      }
      // `load: "load.sh"` is short for `load: { shell: "load.sh" }`.
      if (isScalar(pair.value) && typeof pair.value.value === 'string') {
        this.commandKeys.set(taskId, 'shell');
        return { id: taskId, command: pair.value.value };
      }
      const body = this.mapping(pair.value, `task "${taskId}"`, taskId, null, `use e.g. ${taskId}: { shell: "run.sh", upstream: [other] }`);
      const settings = this.readSettings(body, 'task', TASK_KEYS, taskId, '');
      if (settings.command === undefined && settings.docker === undefined && settings.kind !== 'docker') {
        this.fail(pair.key, taskId, 'command', 'task has no command', 'add shell: "..." (a shell string), command: [...] (argv), or docker: { image: … } (a container)');
      }
      return { ...settings, id: taskId } as unknown as TaskInput;
    });
  }
}

function parse(text: string, file: string): ParsedYamlDag[] {
  const counter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: counter, prettyErrors: true });
  if (!Array.isArray(docs)) return []; // an empty stream
  const dags: ParsedYamlDag[] = [];
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error) {
      const line = error.linePos?.[0].line ?? null;
      const problem = `YAML syntax error: ${error.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`;
      throw new DagValidationError({ file, dagId: null, taskId: null, field: null, line }, problem, 'correct the YAML at this line');
    }
    if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) continue; // empty document
    const reader = new YamlDagReader(file, doc, counter);
    const input = reader.readDag(doc.contents as Node);
    dags.push({ input, lines: reader.lines, line: reader.lineOf(doc.contents as Node) ?? 1, spelling: reader.spelling });
  }
  return dags;
}

/**
 * Reads the DAGs of a YAML file (one per document; `---` separates documents). Keys are
 * snake_case (`start_date`, `retry_delay`, `trigger_rule`…); a task has `shell: "…"` or
 * `command: "…" | [argv]`, `upstream: [ids]` and any of the `defaults` keys.
 *
 * A container task has `docker:` instead of `shell`/`command`, with `image` (required),
 * `command`, `entrypoint`, `pull_policy`, `user`, `volumes` (`"src:dst[:ro]"` or
 * `{ source, target, read_only }`), `network`, `labels`, `registry_credentials`,
 * `resources: { cpus, memory, gpus }`, `gpu_mode`, `runtime`, `auto_remove`, `secrets_path`;
 * and `secrets: [keys]` at task level. `env` and `cwd` stay at task level.
 * @throws DagValidationError with `file:line` for YAML syntax errors, unknown keys (listing
 *   the allowed ones), a DAG without tasks, tasks with no or two commands, and
 *   `shell`/`command` next to `docker`. Other checks are `validateDag`'s.
 */
export function parseYamlDags(text: string, file: string): DagInput[] {
  return parse(text, file).map((d) => d.input);
}

/**
 * {@link parseYamlDags} then `validateDag` on each DAG. Validation errors name fields as
 * the YAML writes them (`start_date`, `defaults.retry_delay`, `shell`, `docker.command[1]`),
 * in `field` and in the message, and get the line of the offending key (or of its task, or
 * of the document).
 */
export function loadYamlDags(text: string, file: string): SerializedDag[] {
  return parse(text, file).map(({ input, lines, line, spelling }) => {
    try {
      return validateDag(input, file, { spelling });
    } catch (err) {
      if (!(err instanceof DagValidationError) || err.line !== null) throw err;
      let at: number | undefined;
      for (let field = err.field ?? ''; field !== '' && at === undefined; field = parentField(field)) at = lines.get(lineKey(err.taskId, field));
      at ??= lines.get(lineKey(err.taskId, null)) ?? line;
      throw err.withLine(at);
    }
  });
}
