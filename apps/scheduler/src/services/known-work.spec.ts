import type { TaskInstance, TiTransition } from '@swarmflow/persistence';
import { KnownWork } from './known-work';

function ti(id: number, state: TaskInstance['state'], over: Partial<TaskInstance> = {}): TaskInstance {
  return {
    id, runPk: 1, dagId: 'd', taskId: `t${id}`, state, tryNumber: 1, maxTries: 1, queue: 'default', pool: 'p', poolSlots: 2,
    priority: 1, worker: null, hostname: null, pid: null, exitCode: null, reason: null, queuedAt: null, startedAt: null,
    endedAt: null, nextRetryAt: null, ...over,
  };
}

function move(before: TaskInstance, to: TaskInstance['state']): TiTransition {
  return { before, after: { ...before, state: to }, steps: [{ from: before.state, to, tryNumber: before.tryNumber, reason: null }] };
}

describe('KnownWork', () => {
  it('starts from a view and counts each committed transition into slots, per-DAG counts, candidates and rows', () => {
    const view = { candidates: [ti(1, 'scheduled'), ti(2, 'scheduled', { priority: 5 })], poolSlots: new Map([['p', 4]]), perDag: new Map([['d', 2]]), paused: new Set(['held']) };
    const known = KnownWork.fromView(view, 10, 7);
    expect(known.complete).toBe(true);
    expect(known.view().candidates.map((c) => c.id)).toEqual([2, 1]); // by priority

    known.apply([move(ti(2, 'scheduled', { priority: 5 }), 'queued'), move(ti(3, 'none'), 'scheduled')]);
    expect(known.view()).toEqual({
      candidates: [expect.objectContaining({ id: 1 }), expect.objectContaining({ id: 3 })],
      poolSlots: new Map([['p', 6]]), perDag: new Map([['d', 3]]), paused: new Set(['held']),
    });
    expect(known.row(2)).toMatchObject({ state: 'queued' });

    // queued → running changes no count; running → success frees the slots and forgets the row.
    known.apply([move(known.row(2)!, 'running')]);
    expect(known.view().poolSlots.get('p')).toBe(6);
    known.apply([move(known.row(2)!, 'success')]);
    expect(known.row(2)).toBeUndefined();
    expect(known.view()).toMatchObject({ poolSlots: new Map([['p', 4]]), perDag: new Map([['d', 2]]) });
  });

  it('hands out copies, so dispatch can count its decisions into the view it is given', () => {
    const known = KnownWork.fromView({ candidates: [], poolSlots: new Map([['p', 1]]), perDag: new Map(), paused: new Set() }, 10, 0);
    const view = known.view();
    view.poolSlots.set('p', 99);
    view.candidates.push(ti(9, 'scheduled'));
    view.paused.add('d');
    expect(known.view()).toEqual({ candidates: [], poolSlots: new Map([['p', 1]]), perDag: new Map(), paused: new Set() });
  });

  it('is incomplete when the view reached its limit: some scheduled instances may be missing from it', () => {
    const known = KnownWork.fromView({ candidates: [ti(1, 'scheduled'), ti(2, 'scheduled')], poolSlots: new Map(), perDag: new Map(), paused: new Set() }, 2, 0);
    expect(known.complete).toBe(false);
  });
});
