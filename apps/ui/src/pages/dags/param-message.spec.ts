import { describe, expect, it } from '@jest/globals';
import { formFieldMessage } from './param-message';

describe('formFieldMessage', () => {
  it('gives the problem and the fix without the API\'s body example, worded for a field one fills in', () => {
    const message = 'conf.epochs must be integer (got "ten"). Fix: pass a whole number, e.g. the body {"conf": {"epochs": 10}}.';
    expect(formFieldMessage({ message, problem: 'must be integer (got "ten")', hint: 'pass a whole number' }))
      .toBe('must be integer (got "ten"). Fix: enter a whole number.');
    expect(formFieldMessage({ message, problem: 'is required (it has no default); the conf has "epoch", which is no param', hint: 'rename "epoch" to "epochs"' }))
      .toBe('is required (it has no default); the conf has "epoch", which is no param. Fix: rename "epoch" to "epochs".');
  });

  it('falls back to the problem alone, or to the message of a server that sends no parts', () => {
    expect(formFieldMessage({ message: 'm', problem: 'is invalid', hint: undefined })).toBe('is invalid');
    expect(formFieldMessage({ message: 'conf.epochs must be integer', problem: undefined, hint: undefined })).toBe('conf.epochs must be integer');
  });
});
