import { ParamValidationError } from '../errors';
import { errorOf } from '../test-support/error-of';
import type { ParamSpec } from '../dag/dag.types';
import { checkParamValue, resolveParams } from './params';

const specs: Record<string, ParamSpec> = {
  epochs: { type: 'integer', default: 10, minimum: 1 },
  region: { type: 'string', default: 'eu', enum: ['eu', 'us'] },
  dataset: { type: 'string' },
};

function rejected(s: Record<string, ParamSpec>, conf: unknown): ParamValidationError {
  const err = errorOf<ParamValidationError>(() => resolveParams(s, conf));
  expect(err).toBeInstanceOf(ParamValidationError);
  return err;
}

describe('resolveParams', () => {
  it('fills defaults and keeps given values and extra keys', () => {
    expect(resolveParams(specs, { dataset: 'ml1m', epochs: 3, note: 'x' })).toEqual({ dataset: 'ml1m', epochs: 3, region: 'eu', note: 'x' });
  });

  it('rejects a key that looks like a misspelt param, naming the param it was meant to be', () => {
    const err = rejected(specs, { datset: 'ml1m' });
    expect(err.message).toBe(`conf.datset is not a param of this DAG, but "dataset" is. Fix: use the param's name, e.g. --conf '{"dataset": "ml1m"}'.`);
    expect(err.field).toBe('conf.datset');
    expect(rejected(specs, { dataset: 'x', Epochs: 3 }).message).toContain('but "epochs" is');
    expect(rejected(specs, { dataset: 'x', epoch: 3 }).message).toContain('but "epochs" is');
  });

  it('names a misspelt key when a required param is missing, even one too far off to refuse on its own', () => {
    const err = rejected({ label: { type: 'string' } }, { lable: 'x' });
    expect(err.message).toBe(`conf.label is required (it has no default); the conf has "lable", which is no param. Fix: rename "lable" to "label", e.g. --conf '{"label": "x"}'.`);
  });

  it('keeps keys far from every param name, and a near one when the param itself is given too', () => {
    expect(resolveParams(specs, { dataset: 'x', regions: ['eu'], region: 'us', run: 1, ep: 2 }))
      .toEqual({ dataset: 'x', regions: ['eu'], region: 'us', run: 1, ep: 2, epochs: 10 });
    // One letter off a one- or two-letter name is not a misspelling worth refusing.
    expect(resolveParams({ lr: { type: 'number', default: 0.1 } }, { l: 1, lx: 2 })).toEqual({ lr: 0.1, l: 1, lx: 2 });
  });

  it('treats a missing conf as {}', () => {
    const noRequired = { epochs: specs.epochs };
    expect(resolveParams(noRequired, undefined)).toEqual({ epochs: 10 });
    expect(resolveParams(noRequired, null)).toEqual({ epochs: 10 });
  });

  it('requires a param with no default', () => {
    const err = rejected(specs, {});
    expect(err.message).toBe(`conf.dataset is required (it has no default). Fix: pass a string, e.g. --conf '{"dataset": "text"}'.`);
    expect(err.field).toBe('conf.dataset');
    expect(err.fix).toBe(`pass a string, e.g. --conf '{"dataset": "text"}'`);
  });

  it('names the field, the expected type and what was given', () => {
    const err = rejected(specs, { dataset: 'x', epochs: 'ten' });
    expect(err.message).toBe(`conf.epochs must be integer (got "ten"). Fix: pass a whole number, e.g. --conf '{"epochs": 10}'.`);
    expect(err.field).toBe('conf.epochs');
  });

  it.each<[string, ParamSpec, unknown, string]>([
    ['a float for an integer', { type: 'integer' }, 1.5, `conf.p must be integer (got 1.5). Fix: pass a whole number, e.g. --conf '{"p": 10}'.`],
    ['a string for a number', { type: 'number' }, '1', `conf.p must be number (got "1"). Fix: pass a number, e.g. --conf '{"p": 0.5}'.`],
    ['a string for a boolean', { type: 'boolean' }, 'true', `conf.p must be boolean (got "true"). Fix: pass true or false, e.g. --conf '{"p": true}'.`],
    ['an object for an array', { type: 'array' }, {}, `conf.p must be array (got {}). Fix: pass a JSON array, e.g. --conf '{"p": []}'.`],
    ['an array for an object', { type: 'object' }, [1], `conf.p must be object (got [1]). Fix: pass a JSON object, e.g. --conf '{"p": {}}'.`],
    ['null for a string', { type: 'string' }, null, `conf.p must be string (got null). Fix: pass a string, e.g. --conf '{"p": "text"}'.`],
    ['a value outside the enum', { type: 'string', enum: ['eu', 'us'] }, 'asia', `conf.p must be one of "eu", "us" (got "asia"). Fix: pass one of the allowed values, e.g. --conf '{"p": "eu"}'.`],
    ['a value below the minimum', { type: 'integer', minimum: 1 }, 0, `conf.p must be >= 1 (got 0). Fix: pass a valid value, e.g. --conf '{"p": 10}'.`],
    ['a value above the maximum', { type: 'number', maximum: 1, default: 0.1 }, 2, `conf.p must be <= 1 (got 2). Fix: pass a valid value, e.g. --conf '{"p": 0.1}'.`],
    ['a too long string', { type: 'string', maxLength: 3 }, 'abcd', `conf.p must NOT have more than 3 characters (got "abcd"). Fix: pass a valid value, e.g. --conf '{"p": "text"}'.`],
    ['a string not matching the pattern', { type: 'string', pattern: '^[a-z]+$' }, 'A1', `conf.p must match pattern "^[a-z]+$" (got "A1"). Fix: pass a valid value, e.g. --conf '{"p": "text"}'.`],
  ])('rejects %s', (_name, spec, value, message) => {
    expect(rejected({ p: spec }, { p: value }).message).toBe(message);
  });

  it('rejects a conf that is not an object', () => {
    for (const conf of [[1], 'x', 3]) {
      const err = rejected(specs, conf);
      expect(err.field).toBe('conf');
      expect(err.message).toBe(`conf must be a JSON object (got ${JSON.stringify(conf)}). Fix: pass an object of param values, e.g. --conf '{"name": "value"}'.`);
    }
  });

  it('validates an explicit null against the type instead of using the default', () => {
    expect(rejected({ epochs: specs.epochs }, { epochs: null }).message).toBe(`conf.epochs must be integer (got null). Fix: pass a whole number, e.g. --conf '{"epochs": 10}'.`);
  });
});

describe('checkParamValue', () => {
  it('returns null for a valid value and the problem otherwise', () => {
    expect(checkParamValue('epochs', specs.epochs, 5)).toBeNull();
    expect(checkParamValue('epochs', specs.epochs, 0)).toEqual({ problem: 'must be >= 1 (got 0)', fix: `pass a valid value, e.g. --conf '{"epochs": 10}'`, example: { hint: 'pass a valid value', conf: { epochs: 10 } } });
  });
});
