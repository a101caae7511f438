import { EXCHANGES, MemoryBroker } from '@swarmflow/messaging';
import { startWorker } from './start-worker';
import { PublishRecorder, RecordingLogger, signed, taskMessage, TEST_CLUSTER_KEY } from './test-support/worker-harness';

describe('startWorker', () => {
  it('returns a running worker on a MemoryBroker (standalone mode)', async () => {
    const logger = new RecordingLogger();
    const broker = new MemoryBroker({ logger });
    await broker.start();
    const published = new PublishRecorder(broker);
    const worker = await startWorker({ name: 'standalone', hostname: 'h', queues: ['default'], concurrency: 1 }, broker, { logger, clusterKey: TEST_CLUSTER_KEY });
    expect(worker.state).toBe('active');
    const task = taskMessage();
    await broker.publish(EXCHANGES.tasks, 'default', signed(task));
    expect(await published.finishedOf(task.tiId)).toMatchObject({ worker: 'standalone', outcome: 'success' });
    await worker.drain();
    await broker.close();
  });
});
