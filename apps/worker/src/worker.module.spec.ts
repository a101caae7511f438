import { Test } from '@nestjs/testing';
import { MemoryBroker } from '@swarmflow/messaging';
import { RecordingLogger } from './test-support/worker-harness';
import { WorkerModule } from './worker.module';
import { WorkerService } from './worker.service';

describe('WorkerModule', () => {
  it('provides a WorkerService built from the options and broker', async () => {
    const broker = new MemoryBroker({ logger: new RecordingLogger() });
    const options = { name: 'w7', hostname: 'h', queues: ['default'], concurrency: 3 };
    const module = await Test.createTestingModule({ imports: [WorkerModule.forRoot(options, broker, { logger: new RecordingLogger() })] }).compile();
    const worker = module.get(WorkerService);
    expect(worker).toBeInstanceOf(WorkerService);
    expect(worker.options).toBe(options);
    expect(worker.state).toBe('idle');
    await module.close();
  });
});
