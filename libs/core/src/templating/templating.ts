import nunjucks from 'nunjucks';
import { TemplateRenderError } from '../errors';

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
  };
}

// Commands are not HTML: no autoescape. A typo in a variable must fail, not render "".
const env = new nunjucks.Environment(null, { autoescape: false, throwOnUndefined: true });
const compiled = new Map<string, nunjucks.Template>();
const MAX_CACHED = 1000;

function compile(template: string, field: string): nunjucks.Template {
  let tpl = compiled.get(template);
  if (!tpl) {
    try {
      tpl = new nunjucks.Template(template, env, undefined, true);
    } catch (err) {
      throw new TemplateRenderError(field, null, `invalid template ${JSON.stringify(template)}: ${cleanMessage(err)}`, 'check the {{ }} and {% %} syntax');
    }
    if (compiled.size >= MAX_CACHED) compiled.clear();
    compiled.set(template, tpl);
  }
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
  if (!/\{[{%#]/.test(template)) return template;
  const tpl = compile(template, field);
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

/** Renders a command: a string, or each argv element (field `command[i]`). */
export function renderCommand(command: string | string[], ctx: TemplateContext): string | string[] {
  if (typeof command === 'string') return renderTemplate(command, ctx, 'command');
  return command.map((part, i) => renderTemplate(part, ctx, `command[${i}]`));
}

// --- finding which variable was undefined: nunjucks' own message does not say ---

interface AstNode {
  typename: string;
  fields?: string[];
  value?: unknown;
  target?: AstNode;
  val?: AstNode;
  name?: AstNode;
  [key: string]: unknown;
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
  return Array.isArray(n.children) ? n.children.flatMap(boundNames) : [];
}

function collectChains(node: unknown, chains: string[][], bound: Set<string>): void {
  if (!node || typeof node !== 'object') return;
  const n = node as AstNode;
  const chain = n.typename === 'Symbol' || n.typename === 'LookupVal' ? lookupChain(n) : null;
  if (chain) {
    chains.push(chain);
    return;
  }
  // Loop and set variables are not in the context: never report them.
  if (n.typename === 'For') boundNames(n.name).forEach((name) => bound.add(name));
  if (n.typename === 'Set') (n.targets as unknown[]).flatMap(boundNames).forEach((name) => bound.add(name));
  for (const field of n.fields ?? []) {
    if (n.typename === 'Filter' && field === 'name') continue; // a filter name, not a variable
    if (n.typename === 'For' && field === 'name') continue;
    if (n.typename === 'Set' && field === 'targets') continue;
    const child = n[field];
    if (Array.isArray(child)) child.forEach((c) => collectChains(c, chains, bound));
    else collectChains(child, chains, bound);
  }
}

function findUndefinedVariable(template: string, ctx: TemplateContext): { variable: string; known: string[] } | null {
  const chains: string[][] = [];
  const bound = new Set<string>();
  collectChains(parser.parse(template), chains, bound);
  for (const chain of chains) {
    if (bound.has(chain[0])) continue;
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
