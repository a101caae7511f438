import { EXCHANGES, type Broker } from '@swarmflow/messaging';
import { TaskLogPublisher } from './task-log.publisher';

function fakeBroker(): { broker: Broker; batches: any[] } {
  const batches: any[] = [];
  const broker = {
    publish: async (exchange: string, key: string, body: object) => {
      batches.push({ exchange, key, ...body });
    },
  } as unknown as Broker;
  return { broker, batches };
}

const options = { flushMs: 60_000, maxLines: 3, tailLines: 2, now: () => new Date(0), onError: () => undefined };

describe('TaskLogPublisher', () => {
  it('publishes a batch when it is full, and the rest on flush, with increasing seq', async () => {
    const { broker, batches } = fakeBroker();
    const logs = new TaskLogPublisher(broker, 7, 2, options);
    for (const line of ['a', 'b', 'c', 'd']) logs.add('stdout', line);
    logs.add('system', 'exited');
    await logs.flush();
    expect(batches).toEqual([
      { exchange: EXCHANGES.logs, key: 'log.7', tiId: 7, tryNumber: 2, seq: 1, lines: ['a', 'b', 'c'].map((line) => ({ at: '1970-01-01T00:00:00.000Z', stream: 'stdout', line })) },
      { exchange: EXCHANGES.logs, key: 'log.7', tiId: 7, tryNumber: 2, seq: 2, lines: [
        { at: '1970-01-01T00:00:00.000Z', stream: 'stdout', line: 'd' }, { at: '1970-01-01T00:00:00.000Z', stream: 'system', line: 'exited' },
      ] },
    ]);
    expect(logs.tail()).toEqual(['c', 'd']);
  });

  it('publishes after flushMs without an explicit flush', async () => {
    const { broker, batches } = fakeBroker();
    const logs = new TaskLogPublisher(broker, 1, 1, { ...options, flushMs: 10 });
    const published = new Promise<void>((resolve) => {
      broker.publish = async (_e, _k, body) => {
        batches.push(body);
        resolve();
      };
    });
    logs.add('stderr', 'x');
    await published;
    expect(batches).toEqual([{ tiId: 1, tryNumber: 1, seq: 1, lines: [{ at: '1970-01-01T00:00:00.000Z', stream: 'stderr', line: 'x' }] }]);
  });

  it('reports a lost batch and goes on', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const broker = { publish: async () => { if (calls++ === 0) throw new Error('nacked'); } } as unknown as Broker;
    const logs = new TaskLogPublisher(broker, 1, 1, { ...options, onError: (e) => errors.push(e) });
    logs.add('stdout', 'a');
    await logs.flush();
    logs.add('stdout', 'b');
    await logs.flush();
    expect(errors).toEqual([new Error('nacked')]);
    expect(calls).toBe(2);
  });

  it('asks to stop reading while it holds over the high mark, and to read again under the low mark', async () => {
    const { broker } = fakeBroker();
    const confirms: Array<() => void> = [];
    broker.publish = () => new Promise<void>((resolve) => confirms.push(resolve));
    const pressure: boolean[] = [];
    const logs = new TaskLogPublisher(broker, 1, 1, { ...options, maxLines: 1_000_000, onPressure: (full) => pressure.push(full) });
    const line = 'x'.repeat(1023);
    for (let i = 0; i < 5 * 1024; i++) logs.add('stdout', line); // 5 MiB with the newlines
    expect(pressure).toEqual([true]);
    while (confirms.length > 0 || pressure.length < 2) {
      confirms.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(pressure).toEqual([true, false]);
    broker.publish = async () => undefined;
    await logs.flush();
    // 256 KiB batches, each line counting 1,023 characters and 128 for its object: 228 lines a batch.
    expect(logs.publishedBatches()).toEqual({ first: 1, last: 23, count: 23 });
  });

  it('keeps output up to the limit, then counts what it drops and says so', async () => {
    const { broker, batches } = fakeBroker();
    const logs = new TaskLogPublisher(broker, 1, 1, { ...options, maxLines: 100, maxChars: 10 });
    for (const line of ['1234', '5678', 'abc', 'de']) logs.add('stdout', line);
    logs.summarizeDropped();
    await logs.flush();
    expect(batches.flatMap((b) => b.lines.map((l: { line: string }) => l.line))).toEqual([
      '1234', '5678', "log limit of 10 characters reached: the rest of this try's output is discarded (the task keeps running)",
      '2 line(s), 7 character(s) of output were discarded past the log limit of 10 characters',
    ]);
    expect(logs.dropped).toEqual({ lines: 2, chars: 7 });
  });
});
