import type { TaskFinishedEvent, WorkerEvent, WorkerHeartbeatEvent } from '@swarmflow/core';
import type { BrokerMessage } from '@swarmflow/messaging';
import { LogCompletionGate } from './log-completion.gate';

function message(): BrokerMessage<unknown> & { settled: string[] } {
  const settled: string[] = [];
  return { settled, ack: () => settled.push('ack'), nack: (requeue?: boolean) => settled.push(`nack:${requeue}`) } as unknown as BrokerMessage<unknown> & { settled: string[] };
}

const finished = (logBatches?: TaskFinishedEvent['logBatches']): TaskFinishedEvent => ({
  type: 'task.finished', tiId: 7, tryNumber: 1, worker: 'w1', outcome: 'success', exitCode: 0, signal: null, reason: null,
  logTail: [], at: '2026-01-01T00:00:00Z', ...(logBatches ? { logBatches } : {}),
});

const heartbeat = (): WorkerHeartbeatEvent => ({
  type: 'worker.heartbeat', worker: 'w1', hostname: 'h', queues: ['default'], concurrency: 1, running: [], state: 'active', at: '2026-01-01T00:00:01Z',
});

/** Polls until `condition` holds (30 s at most: generous for a loaded machine, it measures nothing). */
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 2));
  expect(condition()).toBe(true);
}

describe('LogCompletionGate', () => {
  it('passes an end without log batches at once', () => {
    const passed: WorkerEvent[] = [];
    const gate = new LogCompletionGate({ holdEnd: async () => undefined, countBatches: async () => 0 }, (e) => passed.push(e), () => undefined);
    gate.admit(finished(), message());
    expect(passed).toHaveLength(1);
  });

  it('holds an end until its batches are stored, and lists its try in the worker\'s heartbeats meanwhile', async () => {
    let stored = 1;
    const asked: number[][] = [];
    const passed: WorkerEvent[] = [];
    const gate = new LogCompletionGate({
      holdEnd: async () => undefined,
      countBatches: async (tiId, tryNumber, first, last) => {
        asked.push([tiId, tryNumber, first, last]);
        return stored;
      },
    }, (e) => passed.push(e), () => undefined, { pollMs: 5 });
    gate.admit(finished({ first: 1, last: 3, count: 3 }), message());
    await until(() => asked.length >= 2);
    expect(passed).toEqual([]);
    // Asked by the lost-worker check and the claim desk: this try ended, its end waits here.
    expect([gate.holdsEnd(7, 1), gate.holdsEnd(7, 2), gate.holdsEnd(8, 1)]).toEqual([true, false, false]);
    gate.admit(heartbeat(), message());
    expect(passed).toEqual([expect.objectContaining({ type: 'worker.heartbeat', running: [{ tiId: 7, tryNumber: 1 }] })]);
    stored = 3;
    await until(() => passed.length === 2);
    expect(passed[1]).toMatchObject({ type: 'task.finished', tiId: 7 });
    expect(asked[0]).toEqual([7, 1, 1, 3]);
    expect(gate.waiting).toBe(0);
    expect(gate.holdsEnd(7, 1)).toBe(false);
  });

  it('says once that holds cannot be recorded while the database is away, and once that they are again', async () => {
    const warnings: string[] = [];
    let up = false;
    const gate = new LogCompletionGate({
      holdEnd: async () => { if (!up) throw new Error('read ECONNRESET'); },
      countBatches: async () => { throw new Error('read ECONNRESET'); },
    }, () => undefined, (w) => warnings.push(w), { pollMs: 5 });
    for (let tiId = 1; tiId <= 5; tiId++) gate.admit({ ...finished({ first: 1, last: 1, count: 1 }), tiId }, message());
    await until(() => warnings.length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(warnings).toEqual([expect.stringMatching(/^could not record the hold of task instance 1 try 1's end .*read ECONNRESET \(further failures are counted/)]);
    up = true;
    gate.admit({ ...finished({ first: 1, last: 1, count: 1 }), tiId: 6 }, message());
    await until(() => warnings.length === 2);
    expect(warnings[1]).toBe('recording ends held for their logs again; 5 hold(s) could not be recorded for the other schedulers meanwhile');
    gate.stop();
  });

  it('applies the end anyway after the longest wait, with a warning', async () => {
    const warnings: string[] = [];
    const passed: WorkerEvent[] = [];
    const gate = new LogCompletionGate({ holdEnd: async () => undefined, countBatches: async () => 1 }, (e) => passed.push(e), (m) => warnings.push(m), { pollMs: 5, maxWaitMs: 30 });
    gate.admit(finished({ first: 1, last: 2, count: 2 }), message());
    await until(() => passed.length === 1);
    expect(warnings).toEqual([expect.stringMatching(/^applying the end of task instance 7 try 1 with 1 of its 2 log batch\(es\) stored after \d+ s/)]);
  });

  it('gives held ends back to the broker when it stops', () => {
    const gate = new LogCompletionGate({ holdEnd: async () => undefined, countBatches: () => new Promise(() => undefined) }, () => undefined, () => undefined);
    const msg = message();
    gate.admit(finished({ first: 1, last: 1, count: 1 }), msg);
    gate.stop();
    expect(msg.settled).toEqual(['nack:true']);
  });
});
