import type { TiState } from './state/states';

/** Where a DAG definition problem sits: file, DAG, task and field (null when not applicable). */
export interface DagErrorLocation {
  file: string;
  dagId: string | null;
  taskId: string | null;
  field: string | null;
  /** 1-based line in the source file when known (YAML files); null otherwise. */
  line?: number | null;
}

/**
 * A DAG definition is invalid. The message reads
 * `<file>[:line]: DAG "<id>", task "<task>": <problem>. Fix: <fix>.` so that the UI and the
 * CLI can show it as is; the fields let callers map it (HTTP 400 `{ reason, message, field }`).
 */
export class DagValidationError extends Error {
  override name = 'DagValidationError';
  readonly file: string;
  readonly dagId: string | null;
  readonly taskId: string | null;
  readonly field: string | null;
  /** 1-based source line when known (YAML files), else null. */
  readonly line: number | null;
  /** What is wrong, without the location and the fix. */
  readonly problem: string;
  /** How to fix it, one imperative sentence without the final period. */
  readonly fix: string;

  constructor(location: DagErrorLocation, problem: string, fix: string) {
    super(formatDagError(location, problem, fix));
    this.file = location.file;
    this.dagId = location.dagId;
    this.taskId = location.taskId;
    this.field = location.field;
    this.line = location.line ?? null;
    this.problem = problem;
    this.fix = fix;
  }

  /** The same error with a source line attached (used by the YAML loader). */
  withLine(line: number): DagValidationError {
    const copy = new DagValidationError({ ...this, line }, this.problem, this.fix);
    return copy;
  }
}

/** The upstream links of a DAG form a cycle; `path` starts and ends with the same task. */
export class DagCycleError extends DagValidationError {
  override name = 'DagCycleError';
  readonly path: string[];

  constructor(location: DagErrorLocation, path: string[]) {
    super(
      location,
      `upstream links form a cycle: ${path.join(' -> ')}`,
      `remove one of these links so that no task depends on itself`,
    );
    this.path = path;
  }

  override withLine(line: number): DagCycleError {
    return new DagCycleError({ ...this, line }, this.path);
  }
}

/** A trigger conf does not match the DAG's params. `field` is like `conf.epochs`. */
export class ParamValidationError extends Error {
  override name = 'ParamValidationError';
  readonly field: string;
  readonly problem: string;
  readonly fix: string;

  /**
   * The fix without its example (`pass a whole number`): for a client that words the rest
   * itself, such as the web UI's trigger form, whose user fills a field rather than a conf.
   */
  readonly hint: string;

  /**
   * The fix for an API caller, who sends `{"conf": {…}}` rather than the CLI's `--conf`:
   * the same hint with the example as a JSON body field.
   */
  readonly apiFix: string;

  /**
   * @param fix the fix as the CLI words it (`pass a whole number, e.g. --conf '{"epochs": 10}'`)
   * @param example what the fix's example is made of, to word it for the API as well
   */
  constructor(field: string, problem: string, fix: string, example?: { hint: string; conf: Record<string, unknown> }) {
    super(`${field} ${problem}. Fix: ${fix}.`);
    this.field = field;
    this.problem = problem;
    this.fix = fix;
    this.hint = example?.hint ?? fix;
    this.apiFix = example ? `${example.hint}, e.g. ${API_CONF_EXAMPLE_START}${JSON.stringify(example.conf)}}` : fix;
  }

  /** The message for an API caller: the JSON field `conf` rather than the CLI's `--conf` flag. */
  get apiMessage(): string {
    return `${this.field} ${this.problem}. Fix: ${this.apiFix}.`;
  }
}

/** How {@link ParamValidationError.apiFix} begins its example, up to the conf object. */
const API_CONF_EXAMPLE_START = 'the body {"conf": ';

/** `--conf '{"epochs": 10}'`: a conf as the CLI's trigger flag takes it. */
export function confFlag(conf: unknown): string {
  return `--conf '${JSON.stringify(conf).replace(/":/g, '": ').replace(/,"/g, ', "')}'`;
}

/**
 * A conf error's message as the API words it (`… e.g. the body {"conf": {"epochs": 10}}.`)
 * worded for the CLI (`… e.g. --conf '{"epochs": 10}'.`); any other text as it is.
 */
export function confMessageForCli(apiMessage: string): string {
  const at = apiMessage.lastIndexOf(API_CONF_EXAMPLE_START);
  if (at < 0 || !apiMessage.endsWith('}}.')) return apiMessage;
  try {
    const conf = JSON.parse(apiMessage.slice(at + API_CONF_EXAMPLE_START.length, -2));
    return `${apiMessage.slice(0, at)}${confFlag(conf)}.`;
  } catch {
    return apiMessage;
  }
}

/** A duration setting (`'30s'`, `'5m'`, a number of ms) cannot be read. */
export class InvalidDurationError extends Error {
  override name = 'InvalidDurationError';
  readonly field: string;
  readonly value: unknown;
  readonly fix: string;

  constructor(field: string, value: unknown, problem: string, fix: string) {
    super(`${field} ${problem}. Fix: ${fix}.`);
    this.field = field;
    this.value = value;
    this.fix = fix;
  }
}

/** A memory setting (`'512m'`, `'30g'`, a number of bytes) cannot be read. */
export class InvalidMemoryError extends Error {
  override name = 'InvalidMemoryError';
  readonly field: string;
  readonly value: unknown;
  /** What is wrong, without the field and the fix. */
  readonly problem: string;
  readonly fix: string;

  constructor(field: string, value: unknown, problem: string, fix: string) {
    super(`${field} ${problem}. Fix: ${fix}.`);
    this.field = field;
    this.value = value;
    this.problem = problem;
    this.fix = fix;
  }
}

/** A task-instance transition that the state machine does not allow. */
export class InvalidTransitionError extends Error {
  override name = 'InvalidTransitionError';
  readonly from: TiState;
  readonly to: TiState;

  constructor(from: TiState, to: TiState, allowed: readonly TiState[]) {
    super(
      `cannot move a task instance from "${from}" to "${to}": it is "${from}", ` +
        `which may only move to ${allowed.length ? allowed.map((s) => `"${s}"`).join(', ') : 'nothing'}`,
    );
    this.from = from;
    this.to = to;
  }
}

/** A task instance write whose history steps do not lead from its old row to its new one: a bug in the writer. */
export class TransitionStepsError extends Error {
  override name = 'TransitionStepsError';

  constructor(readonly problem: string) {
    super(`refused a task instance write: ${problem}`);
  }
}

/** A template (`{{ … }}`) in a task field cannot be rendered. */
export class TemplateRenderError extends Error {
  override name = 'TemplateRenderError';
  /** The task field holding the template, e.g. `command` or `command[2]`. */
  readonly field: string;
  /** The undefined variable, e.g. `params.regoin`, when that is the cause. */
  readonly variable: string | null;
  readonly fix: string;

  constructor(field: string, variable: string | null, problem: string, fix: string) {
    super(`${field}: ${problem}. Fix: ${fix}.`);
    this.field = field;
    this.variable = variable;
    this.fix = fix;
  }
}

/**
 * A manual trigger asked for a logical date later than now (beyond the allowed clock
 * skew): as Airflow with `allow_trigger_in_future = False`, it is refused. `field` is the
 * trigger's `logicalDate`.
 */
export class LogicalDateInFutureError extends Error {
  override name = 'LogicalDateInFutureError';
  readonly field = 'logicalDate';
  readonly logicalDate: Date;
  readonly now: Date;

  constructor(logicalDate: Date, now: Date, toleranceMs: number) {
    super(`logicalDate ${logicalDate.toISOString()} is in the future: the server's time is ${now.toISOString()} ` +
      `(clocks may differ by ${toleranceMs / 1000}s). A run's logical date is the start of the data it processes, so a manual ` +
      'run cannot be triggered for a later date. Fix: pick a logical date up to now, or leave it out to use the current time.');
    this.logicalDate = logicalDate;
    this.now = now;
  }
}

/** A task id that the DAG does not have was asked for. */
export class UnknownTaskError extends Error {
  override name = 'UnknownTaskError';
  readonly dagId: string;
  readonly taskId: string;

  constructor(dagId: string, taskId: string) {
    super(`DAG "${dagId}" has no task "${taskId}"`);
    this.dagId = dagId;
    this.taskId = taskId;
  }
}

function formatDagError(location: DagErrorLocation, problem: string, fix: string): string {
  const where = location.line ? `${location.file}:${location.line}` : location.file;
  const parts = [where];
  if (location.dagId !== null) {
    parts.push(location.taskId !== null ? `DAG "${location.dagId}", task "${location.taskId}"` : `DAG "${location.dagId}"`);
  } else if (location.taskId !== null) {
    parts.push(`task "${location.taskId}"`);
  }
  return `${parts.join(': ')}: ${problem}. Fix: ${fix}.`;
}
