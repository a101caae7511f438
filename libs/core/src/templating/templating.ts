import nunjucks from 'nunjucks';
import { TemplateRenderError } from '../errors';
import { quotePlaceholders, UnquotableValueError } from './shell-quote';

/** The variables a task's templates (`{{ … }}`) may use. */
export interface TemplateContext {
  /** The run's resolved params (defaults applied). */
  params: Record<string, unknown>;
  /** The trigger's raw conf. */
  conf: Record<string, unknown>;
  dag_id: string;
  run_id: string;
  task_id: string;
  try_number: number;
  /** Logical date as `YYYY-MM-DD` (UTC). */
  ds: string;
  /** Logical date as `YYYYMMDD` (UTC). */
  ds_nodash: string;
  /** Logical date as an ISO 8601 timestamp (UTC), e.g. `2024-01-01T00:00:00.000Z`. */
  ts: string;
  /** Same as `ts`: a string, so that rendering never depends on the worker's time zone. */
  logical_date: string;
  /** What upstream tasks wrote to their output file, by task id: `{{ outputs.train.model_uri }}`. */
  outputs: Record<string, Record<string, unknown>>;
}

/** Builds the {@link TemplateContext} of one task try. */
export function templateContext(input: {
  dagId: string;
  runId: string;
  taskId: string;
  tryNumber: number;
  logicalDate: Date;
  params: Record<string, unknown>;
  conf: Record<string, unknown>;
  /** Outputs of the run's ended upstream tasks, by task id. Default {}. */
  outputs?: Record<string, Record<string, unknown>>;
}): TemplateContext {
  const ts = input.logicalDate.toISOString();
  const ds = ts.slice(0, 10);
  return {
    params: input.params,
    conf: input.conf,
    dag_id: input.dagId,
    run_id: input.runId,
    task_id: input.taskId,
    try_number: input.tryNumber,
    ds,
    ds_nodash: ds.replace(/-/g, ''),
    ts,
    logical_date: ts,
    outputs: input.outputs ?? {},
  };
}

/** The names a template may use: the {@link TemplateContext}'s variables (nunjucks' own globals aside). */
export const TEMPLATE_VARIABLES: readonly (keyof TemplateContext)[] = [
  'params', 'conf', 'dag_id', 'run_id', 'task_id', 'try_number', 'ds', 'ds_nodash', 'ts', 'logical_date', 'outputs',
];

/**
 * The task ids whose outputs `template` reads (`outputs.train.model_uri` → `train`),
 * guarded reads included; [] for plain text or a template that does not compile.
 */
export function outputTasksRead(template: string): string[] {
  if (!hasTemplate(template) || 'reason' in compileOrReason(template)) return [];
  const { refs, bound } = references(template);
  if (bound.has('outputs')) return [];
  return [...new Set(refs.filter((r) => r.chain[0] === 'outputs' && r.chain.length > 1).map((r) => r.chain[1]))];
}
/** nunjucks' global functions, and the names it binds in loops and macros. */
const NUNJUCKS_NAMES = ['range', 'cycler', 'joiner', 'loop', 'caller'];
/** Filters that supply a value when theirs is undefined: what they filter may be missing. */
const DEFAULT_FILTERS = ['default', 'd'];

// Commands are not HTML: no HTML autoescape. A typo in a variable must fail, not render "".
const env = new nunjucks.Environment(null, { autoescape: false, throwOnUndefined: true });
/**
 * Shell commands: nunjucks' autoescape is on, and its escape function (the library's
 * one, `lib.escape`, which it looks up at each call) gives, while a shell command
 * renders, a placeholder per value; the placeholders are then quoted for the place they
 * sit in ({@link quotePlaceholders}). `| raw` (or nunjucks' `| safe`) opts a value out.
 */
const shellEnv = new nunjucks.Environment(null, { autoescape: true, throwOnUndefined: true });
for (const e of [env, shellEnv]) e.addFilter('raw', e.getFilter('safe'));
const nunjucksLib = (nunjucks as unknown as { lib: { escape(s: string): string } }).lib;
const htmlEscape = nunjucksLib.escape;
let collectValue: ((value: string) => string) | null = null;
nunjucksLib.escape = (value: string) => (collectValue ? collectValue(value) : htmlEscape(value));
const PLACEHOLDER = /\uE000(\d+)\uE001/g;

/** The filters templates can use: nunjucks' built-in ones (`upper`, `default`, `replace`…) and `raw`. */
const FILTERS = (env as unknown as { filters: Record<string, unknown> }).filters;
const compiled = new Map<nunjucks.Environment, Map<string, nunjucks.Template>>([[env, new Map()], [shellEnv, new Map()]]);
const MAX_CACHED = 1000;
const SYNTAX_FIX = 'check the {{ }} and {% %} syntax';

/** Whether nunjucks reads `text` as a template at all: plain text is used as is. */
function hasTemplate(text: string): boolean {
  return /\{[{%#]/.test(text);
}

/** The compiled template, or the reason it does not compile. */
function compileOrReason(template: string, environment = env): nunjucks.Template | { reason: string } {
  const cache = compiled.get(environment)!;
  let tpl = cache.get(template);
  if (!tpl) {
    try {
      tpl = new nunjucks.Template(template, environment, undefined, true);
    } catch (err) {
      return { reason: cleanMessage(err) };
    }
    if (cache.size >= MAX_CACHED) cache.clear();
    cache.set(template, tpl);
  }
  return tpl;
}

function compile(template: string, field: string, environment = env): nunjucks.Template {
  const tpl = compileOrReason(template, environment);
  if ('reason' in tpl) throw new TemplateRenderError(field, null, `invalid template ${JSON.stringify(template)}: ${tpl.reason}`, SYNTAX_FIX);
  return tpl;
}

function cleanMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // nunjucks prefixes "(unknown path) [Line 1, Column 3]\n  " and sometimes "Error: ".
  return message.split('\n').map((line) => line.trim()).filter(Boolean).pop()!.replace(/^Error: /, '');
}

/**
 * Renders one template string with nunjucks (no autoescape, undefined variables throw).
 * @throws TemplateRenderError naming `field` and, for an undefined variable, the variable
 *   (`params.regoin`) with the names that do exist.
 */
export function renderTemplate(template: string, ctx: TemplateContext, field: string): string {
  if (!hasTemplate(template)) return template;
  return renderWith(compile(template, field), template, ctx, field);
}

/**
 * Renders a command `/bin/sh -c` will run: like {@link renderTemplate}, but every value a
 * `{{ }}` puts in it — params, conf, dates, ids, whatever a filter made of them — is
 * quoted for the shell where it lands, so the shell reads it back as exactly that text
 * and never as syntax: `echo {{ params.region }}` with region `eu; id` runs
 * `echo 'eu; id'`. A value of only safe characters (`[A-Za-z0-9_-./,:@%+]`, as `ds`,
 * `ts` or `3` are) is put as is; one inside `"…"` or `'…'` that the command wrote is
 * escaped for those quotes (`"{{ x }}"` stays one word). `{{ x | raw }}` puts the text
 * unquoted, for a value that is meant to be shell syntax.
 * @throws TemplateRenderError as {@link renderTemplate} does, and when a value cannot be
 *   quoted where it sits (after a backslash; a line break in a here-document).
 */
export function renderShellCommand(template: string, ctx: TemplateContext, field: string): string {
  if (!hasTemplate(template)) return template;
  const tpl = compile(template, field, shellEnv);
  const values: string[] = [];
  collectValue = (value) => `\uE000${values.push(value) - 1}\uE001`;
  let rendered: string;
  try {
    rendered = renderWith(tpl, template, ctx, field);
  } finally {
    collectValue = null;
  }
  try {
    return quotePlaceholders(rendered, PLACEHOLDER, values);
  } catch (err) {
    if (!(err instanceof UnquotableValueError)) throw err;
    throw new TemplateRenderError(field, null, `cannot quote a value in ${JSON.stringify(template)}: ${err.problem}`, err.fix);
  }
}

function renderWith(tpl: nunjucks.Template, template: string, ctx: TemplateContext, field: string): string {
  try {
    return tpl.render(ctx as unknown as object);
  } catch (err) {
    const missing = findUndefinedVariable(template, ctx);
    if (missing) {
      throw new TemplateRenderError(
        field,
        missing.variable,
        `undefined variable "${missing.variable}" in ${JSON.stringify(template)}`,
        missing.known.length ? `use one of ${missing.known.join(', ')}` : `define it before use`,
      );
    }
    throw new TemplateRenderError(field, null, `cannot render ${JSON.stringify(template)}: ${cleanMessage(err)}`, 'check the template');
  }
}

/**
 * Renders a command: a string is a shell command ({@link renderShellCommand}: values
 * quoted); an argv array is rendered element by element (field `command[i]`), unquoted,
 * since no shell reads it.
 */
export function renderCommand(command: string | string[], ctx: TemplateContext): string | string[] {
  if (typeof command === 'string') return renderShellCommand(command, ctx, 'command');
  return command.map((part, i) => renderTemplate(part, ctx, `command[${i}]`));
}

/** What is wrong with a template before any run: what {@link templateProblem} finds. */
export type TemplateProblem =
  /** It does not compile; `reason` is nunjucks' own words. */
  | { kind: 'syntax'; reason: string }
  /** It reads `params.<param>`, and the DAG declares no such param. */
  | { kind: 'unknown_param'; param: string }
  /** It reads a name that no run provides (`parms`, Airflow's `var`). */
  | { kind: 'unknown_variable'; variable: string }
  /** It applies a filter nunjucks does not have (`uppr`); `filters` are the ones it has. */
  | { kind: 'unknown_filter'; filter: string; filters: string[] };

/**
 * What can be known wrong about a template without a run, given the DAG's declared
 * params: a syntax error, a `params.<name>` that is not declared, or a top-level name
 * that is not a template variable ({@link TEMPLATE_VARIABLES}, nunjucks' globals, or a
 * name the template sets itself). Null when none is found.
 *
 * Only what cannot be right is reported: nested fields of a param (`params.cfg.key`) are
 * not checked, and a reference the template guards — with `| default(…)` (its fallback
 * too), `is defined`, an `if`, `x or y`, `'x' in params` — may be missing, so a guarded
 * `params.x` is allowed even when `x` is not declared (a trigger's conf may give it).
 * Names a template binds (`set`, `for`, macros, imports) count anywhere in it.
 */
export function templateProblem(template: string, params: readonly string[]): TemplateProblem | null {
  if (!hasTemplate(template)) return null;
  const tpl = compileOrReason(template);
  if ('reason' in tpl) return { kind: 'syntax', reason: tpl.reason };
  const { refs, bound, filters } = references(template);
  const missing = filters.find((f) => !Object.hasOwn(FILTERS, f));
  if (missing !== undefined) return { kind: 'unknown_filter', filter: missing, filters: Object.keys(FILTERS) };
  const key = (chain: string[]) => (chain[0] === 'params' ? chain.slice(0, 2) : chain.slice(0, 1)).join('.');
  const guarded = new Set(refs.filter((r) => r.guarded).map((r) => key(r.chain)));
  for (const { chain } of refs) {
    const [head, name] = chain;
    if (bound.has(head) || guarded.has(key(chain))) continue;
    if (head === 'params') {
      if (name !== undefined && !params.includes(name)) return { kind: 'unknown_param', param: name };
    } else if (!(TEMPLATE_VARIABLES as readonly string[]).includes(head) && !NUNJUCKS_NAMES.includes(head)) {
      return { kind: 'unknown_variable', variable: head };
    }
  }
  return null;
}

// --- the names a template reads, from nunjucks' parse tree ---

interface AstNode {
  typename: string;
  fields?: string[];
  value?: unknown;
  target?: AstNode;
  val?: AstNode;
  name?: AstNode;
  [key: string]: unknown;
}

/** A lookup chain a template reads (`params.region` = ['params', 'region']); guarded if it may be missing. */
interface Reference {
  chain: string[];
  guarded: boolean;
}

const parser = (nunjucks as unknown as { parser: { parse(src: string): AstNode } }).parser;

/** A `a.b["c"]` chain as its parts, or null when it is not a plain lookup. */
function lookupChain(node: AstNode): string[] | null {
  if (node.typename === 'Symbol') return [String(node.value)];
  if (node.typename === 'LookupVal' && node.target && node.val?.typename === 'Literal') {
    const head = lookupChain(node.target);
    return head ? [...head, String(node.val.value)] : null;
  }
  return null;
}

function boundNames(node: unknown): string[] {
  const n = node as AstNode | undefined;
  if (!n) return [];
  if (n.typename === 'Symbol') return [String(n.value)];
  if (n.typename === 'Pair') return boundNames(n.value); // `from x import a as b` binds b
  return Array.isArray(n.children) ? n.children.flatMap(boundNames) : [];
}

const childrenOf = (node: unknown): AstNode[] => ((node as AstNode | undefined)?.children as AstNode[] | undefined) ?? [];

/** Every lookup chain `template` reads, and every name it binds (set, for, macro, import). */
function references(template: string): { refs: Reference[]; bound: Set<string>; filters: string[] } {
  const refs: Reference[] = [];
  const filters: string[] = [];
  const bound = new Set<string>();
  const visit = (node: unknown, guarded: boolean): void => {
    if (!node || typeof node !== 'object') return;
    const n = node as AstNode;
    const chain = n.typename === 'Symbol' || n.typename === 'LookupVal' ? lookupChain(n) : null;
    if (chain) {
      refs.push({ chain, guarded });
      return;
    }
    switch (n.typename) {
      case 'Filter': {
        // The filter's name is no variable. A default filter's value may be missing, and
        // its fallback is read only then: neither has to exist.
        filters.push(String(n.name?.value));
        const fallback = guarded || DEFAULT_FILTERS.includes(String(n.name?.value));
        childrenOf(n.args).forEach((arg) => visit(arg, fallback));
        return;
      }
      case 'Is': // `x is defined`: x may be missing; the test's name is no variable.
        visit(n.left, true);
        if ((n.right as AstNode | undefined)?.typename === 'FunCall') visit((n.right as AstNode).args, guarded);
        return;
      case 'Or': // `x or 'fallback'`
        visit(n.left, true);
        visit(n.right, guarded);
        return;
      case 'In': { // `'x' in params` guards params.x
        const [left, right] = [n.left as AstNode, n.right as AstNode];
        const container = right && lookupChain(right);
        if (left?.typename === 'Literal' && typeof left.value === 'string' && container) refs.push({ chain: [...container, left.value], guarded: true });
        visit(left, guarded);
        visit(right, guarded);
        return;
      }
      case 'If':
      case 'IfAsync':
      case 'InlineIf':
        visit(n.cond, true);
        visit(n.body, guarded);
        visit(n.else_, guarded);
        return;
      case 'For':
      case 'AsyncEach':
      case 'AsyncAll':
        boundNames(n.name).forEach((name) => bound.add(name));
        visit(n.arr, guarded);
        visit(n.body, guarded);
        visit(n.else_, guarded);
        return;
      case 'Set':
        (n.targets as unknown[]).flatMap(boundNames).forEach((name) => bound.add(name));
        visit(n.value, guarded);
        visit(n.body, guarded); // `{% set x %}…{% endset %}` keeps its body off the fields
        return;
      case 'Macro':
      case 'Caller':
        boundNames(n.name).forEach((name) => bound.add(name));
        for (const arg of childrenOf(n.args)) {
          if (arg.typename === 'KeywordArgs') childrenOf(arg).forEach((pair) => { boundNames(pair.key).forEach((name) => bound.add(name)); visit(pair.value, guarded); });
          else boundNames(arg).forEach((name) => bound.add(name));
        }
        visit(n.body, guarded);
        return;
      case 'Import':
        boundNames(n.target).forEach((name) => bound.add(name));
        return;
      case 'FromImport':
        boundNames(n.names).forEach((name) => bound.add(name));
        return;
      case 'Pair': // a dict key or a keyword argument's name is no variable
        visit(n.value, guarded);
        return;
    }
    for (const field of n.fields ?? []) {
      const child = n[field];
      if (Array.isArray(child)) child.forEach((c) => visit(c, guarded));
      else visit(child, guarded);
    }
  };
  visit(parser.parse(template), false);
  return { refs, bound, filters };
}

function findUndefinedVariable(template: string, ctx: TemplateContext): { variable: string; known: string[] } | null {
  const { refs, bound } = references(template);
  for (const { chain, guarded } of refs) {
    if (bound.has(chain[0]) || guarded) continue;
    let value: unknown = ctx;
    for (let i = 0; i < chain.length; i++) {
      const holder = value;
      value = holder !== null && typeof holder === 'object' ? (holder as Record<string, unknown>)[chain[i]] : undefined;
      if (value === undefined || value === null) {
        const prefix = chain.slice(0, i);
        const known =
          holder !== null && typeof holder === 'object'
            ? Object.keys(holder).map((k) => [...prefix, k].join('.'))
            : [];
        return { variable: chain.slice(0, i + 1).join('.'), known };
      }
    }
  }
  return null;
}
