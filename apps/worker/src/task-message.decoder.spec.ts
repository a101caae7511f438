import { decodeControlMessage, decodeTaskMessage, InvalidMessageError } from './task-message.decoder';
import { taskMessage } from './test-support/worker-harness';

describe('decodeTaskMessage', () => {
  it('accepts a valid message (string or array command)', () => {
    const task = taskMessage({ command: ['python', 'train.py'] });
    expect(decodeTaskMessage(JSON.parse(JSON.stringify(task)))).toEqual(task);
    expect(decodeTaskMessage(taskMessage({ command: 'echo hi' })).command).toBe('echo hi');
  });

  it.each([
    [{ tryNumber: 0 }, 'tryNumber'],
    [{ command: [] }, 'command'],
    [{ env: { A: 1 } }, 'env.A'],
    [{ timeoutMs: -1 }, 'timeoutMs'],
  ])('rejects %j naming the field', (override, field) => {
    const body = { ...taskMessage(), ...override };
    expect(() => decodeTaskMessage(body)).toThrow(InvalidMessageError);
    try {
      decodeTaskMessage(body);
    } catch (err) {
      expect((err as InvalidMessageError).field).toBe(field);
      expect((err as InvalidMessageError).message).toMatch(new RegExp(`^invalid task message: ${field.replace('.', '\\.')}: `));
    }
  });
});

describe('decodeControlMessage', () => {
  it('accepts cancel and drain, rejects anything else', () => {
    expect(decodeControlMessage({ type: 'task.cancel', tiId: 1, tryNumber: 2 })).toEqual({ type: 'task.cancel', tiId: 1, tryNumber: 2 });
    expect(decodeControlMessage({ type: 'worker.drain', worker: 'w1' })).toEqual({ type: 'worker.drain', worker: 'w1' });
    expect(() => decodeControlMessage({ type: 'worker.explode' })).toThrow(/^invalid control message: type: /);
  });
});
