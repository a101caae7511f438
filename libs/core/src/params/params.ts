import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { distance } from 'fastest-levenshtein';
import type { ParamSpec } from '../dag/dag.types';
import { confFlag, ParamValidationError } from '../errors';

export const PARAM_TYPES: readonly ParamSpec['type'][] = ['string', 'integer', 'number', 'boolean', 'array', 'object'];

// One Ajv instance and one compiled validator per distinct spec: compiling is the slow part.
const ajv = new Ajv({ allErrors: false, strict: false });
const compiled = new Map<string, ValidateFunction>();

function schemaOf(spec: ParamSpec): Record<string, unknown> {
  const schema: Record<string, unknown> = { type: spec.type };
  for (const key of ['enum', 'minimum', 'maximum', 'minLength', 'maxLength', 'pattern'] as const) {
    if (spec[key] !== undefined) schema[key] = spec[key];
  }
  return schema;
}

function validatorFor(spec: ParamSpec): ValidateFunction {
  const schema = schemaOf(spec);
  const key = JSON.stringify(schema);
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(key, validate);
  }
  return validate;
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  return JSON.stringify(value) ?? String(value);
}

/** An example value of a param, for the "Fix:" hint: its default, else its first enum value, else one of its type. */
function exampleOf(spec: ParamSpec): unknown {
  if (spec.default !== undefined) return spec.default;
  if (spec.enum?.length) return spec.enum[0];
  switch (spec.type) {
    case 'integer':
      return spec.minimum !== undefined ? Math.max(Math.ceil(spec.minimum), 10) : 10;
    case 'number':
      return spec.minimum !== undefined ? Math.max(spec.minimum, 0.5) : 0.5;
    case 'string':
      return 'text';
    case 'boolean':
      return true;
    case 'array':
      return [];
    case 'object':
      return {};
  }
}

const TYPE_HINT: Record<ParamSpec['type'], string> = {
  string: 'pass a string',
  integer: 'pass a whole number',
  number: 'pass a number',
  boolean: 'pass true or false',
  array: 'pass a JSON array',
  object: 'pass a JSON object',
};

function confExample(name: string, value: unknown): string {
  return confFlag({ [name]: value });
}

function describeError(error: ErrorObject, spec: ParamSpec, value: unknown): { problem: string; hint: string } {
  const got = `(got ${show(value)})`;
  switch (error.keyword) {
    case 'type':
      return { problem: `must be ${spec.type} ${got}`, hint: TYPE_HINT[spec.type] };
    case 'enum':
      return {
        problem: `must be one of ${(spec.enum ?? []).map(show).join(', ')} ${got}`,
        hint: 'pass one of the allowed values',
      };
    default:
      return { problem: `${error.message ?? 'is invalid'} ${got}`, hint: 'pass a valid value' };
  }
}

/**
 * Checks one param value against its spec. Returns null when valid, else the problem
 * (`must be integer (got "ten")`) and a fix for the `--conf` of a trigger.
 */
export function checkParamValue(
  name: string, spec: ParamSpec, value: unknown,
): { problem: string; fix: string; example: { hint: string; conf: Record<string, unknown> } } | null {
  const validate = validatorFor(spec);
  if (validate(value)) return null;
  const { problem, hint } = describeError(validate.errors![0], spec, value);
  return { problem, fix: `${hint}, e.g. ${confExample(name, exampleOf(spec))}`, example: { hint, conf: { [name]: exampleOf(spec) } } };
}

/**
 * The param a name not among them (a conf key, a template's `params.<name>`) was most
 * likely meant to be: one or two letters off (a third of the longer name at most), or the
 * same but for case; null when none is that close.
 */
export function misspeltParam(key: string, names: readonly string[]): string | null {
  let best: { name: string; d: number } | null = null;
  for (const name of names) {
    const d = lettersOff(key, name);
    if (d <= 2 && d <= Math.floor(Math.max(key.length, name.length) / 3) && (best === null || d < best.d)) best = { name, d };
  }
  return best?.name ?? null;
}

/** Edit distance of two names, case aside: how many letters one is off from the other. */
export function lettersOff(a: string, b: string): number {
  return distance(a.toLowerCase(), b.toLowerCase());
}

/**
 * Resolves a run's params from the DAG's param specs and a trigger's `conf`
 * (JSON object; undefined/null = `{}`). Missing keys take their default; a param with
 * no default must be given. Keys without a spec are kept as they are (templates read
 * them as `{{ conf.<key> }}`), except a key that looks like a misspelt param: it is an
 * error, since the param would silently keep its default.
 *
 * @throws ParamValidationError with `field` = `conf` or `conf.<name>`, e.g.
 *   `conf.epochs must be integer (got "ten"). Fix: pass a whole number, e.g. --conf '{"epochs": 10}'.`
 */
export function resolveParams(specs: Record<string, ParamSpec>, conf: unknown): Record<string, unknown> {
  if (conf === undefined || conf === null) conf = {};
  if (typeof conf !== 'object' || Array.isArray(conf)) {
    throw new ParamValidationError(
      'conf',
      `must be a JSON object (got ${show(conf)})`,
      `pass an object of param values, e.g. --conf '{"name": "value"}'`,
      { hint: 'pass an object of param values', conf: { name: 'value' } },
    );
  }
  const given = conf as Record<string, unknown>;
  const names = Object.keys(specs);
  for (const key of Object.keys(given)) {
    if (Object.hasOwn(specs, key)) continue;
    const meant = misspeltParam(key, names);
    if (meant !== null && !Object.hasOwn(given, meant)) {
      throw new ParamValidationError(
        `conf.${key}`,
        `is not a param of this DAG, but "${meant}" is`,
        `use the param's name, e.g. ${confExample(meant, given[key])}`,
        { hint: "use the param's name", conf: { [meant]: given[key] } },
      );
    }
  }
  const resolved: Record<string, unknown> = { ...given };
  for (const [name, spec] of Object.entries(specs)) {
    const value = given[name] !== undefined ? given[name] : spec.default;
    if (value === undefined) {
      // A required param is missing: a given key up to two letters off is surely it, misspelt.
      const misspelt = Object.keys(given).find((key) => !Object.hasOwn(specs, key) && lettersOff(key, name) <= 2);
      throw new ParamValidationError(
        `conf.${name}`,
        `is required (it has no default)${misspelt === undefined ? '' : `; the conf has "${misspelt}", which is no param`}`,
        misspelt === undefined
          ? `${TYPE_HINT[spec.type]}, e.g. ${confExample(name, exampleOf(spec))}`
          : `rename "${misspelt}" to "${name}", e.g. ${confExample(name, given[misspelt])}`,
        misspelt === undefined
          ? { hint: TYPE_HINT[spec.type], conf: { [name]: exampleOf(spec) } }
          : { hint: `rename "${misspelt}" to "${name}"`, conf: { [name]: given[misspelt] } },
      );
    }
    const error = checkParamValue(name, spec, value);
    if (error) throw new ParamValidationError(`conf.${name}`, error.problem, error.fix, error.example);
    resolved[name] = value;
  }
  return resolved;
}
