import { decideClaim, type ClaimWitness } from './claims';

describe('decideClaim', () => {
  const at = new Date('2026-01-01T00:00:10Z');
  const heard = (name: string, secondsAfter: number, state = 'active'): ClaimWitness =>
    ({ name, state, lastHeartbeatAt: new Date(at.getTime() + secondsAfter * 1000) });
  const claim = { tryNumber: 2, worker: 'b' };

  it('drops a try that ended, was superseded, or runs on another worker', () => {
    expect(decideClaim(claim, { state: 'success', tryNumber: 2, worker: 'a' }, [], at)).toEqual({ verdict: 'drop', reason: 'it has ended (success)' });
    expect(decideClaim(claim, { state: 'up_for_retry', tryNumber: 2, worker: 'a' }, [], at)).toEqual({ verdict: 'drop', reason: 'it has ended (up_for_retry)' });
    expect(decideClaim(claim, { state: 'queued', tryNumber: 3, worker: null }, [], at)).toEqual({ verdict: 'drop', reason: 'try 3 superseded it' });
    expect(decideClaim(claim, { state: 'running', tryNumber: 2, worker: 'a' }, [], at)).toEqual({ verdict: 'drop', reason: 'it runs on a' });
    expect(decideClaim(claim, null, [], at)).toEqual({ verdict: 'drop', reason: 'the task instance no longer exists' });
  });

  it('runs a try the database has running on the claimant itself (it restarted under its name)', () => {
    expect(decideClaim(claim, { state: 'running', tryNumber: 2, worker: 'b' }, [], at)).toEqual({ verdict: 'run', reason: null });
  });

  it('grants a queued try only once every other live worker was heard from after the claim arrived', () => {
    const queued = { state: 'queued' as const, tryNumber: 2, worker: null };
    expect(decideClaim(claim, queued, [heard('a', -1), heard('b', -5), heard('c', 1)], at)).toEqual({ verdict: 'wait', waitingFor: ['a'] });
    expect(decideClaim(claim, queued, [heard('a', 0.5), heard('b', -5)], at)).toEqual({ verdict: 'run', reason: null });
    // Lost and stopped workers run nothing: they are not waited for.
    expect(decideClaim(claim, queued, [heard('a', -60, 'lost'), heard('d', -60, 'stopped')], at)).toEqual({ verdict: 'run', reason: null });
  });
});
