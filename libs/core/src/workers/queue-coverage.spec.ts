import { unservedQueueReason, type QueueServer } from './queue-coverage';

const w = (name: string, queues: string[], state = 'active'): QueueServer => ({ name, queues, state });

describe('unservedQueueReason', () => {
  it('is null while an active worker serves the queue', () => {
    expect(unservedQueueReason('gpu', [w('a', ['default']), w('b', ['default', 'gpu'])])).toBeNull();
  });

  it('says no worker serves the queue, and which queues live workers serve', () => {
    expect(unservedQueueReason('gpu', [w('a', ['default']), w('g', ['gpu'], 'lost')])).toBe(
      'no worker serves queue gpu (live workers serve default). Fix: start a worker with --queues gpu ' +
      '(on Docker Swarm: scale the instance group serving gpu, e.g. docker service scale swarmflow_worker-gpu=1)',
    );
  });

  it('counts draining and stopping workers out, and names them', () => {
    expect(unservedQueueReason('gpu', [w('g1', ['gpu'], 'draining')])).toMatch(/^no worker serves queue gpu \(its workers are stopping \(g1: draining\)\)/);
  });

  it('says when no worker is live at all', () => {
    expect(unservedQueueReason('default', [])).toMatch(/^no worker serves queue default \(no worker is live\)/);
  });
});
