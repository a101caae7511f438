import { unservedQueueReason, type QueueServer } from './queue-coverage';

const w = (name: string, queues: string[], state = 'active'): QueueServer => ({ name, queues, state });

describe('unservedQueueReason', () => {
  it('is null while an active worker serves the queue', () => {
    expect(unservedQueueReason('gpu', [w('a', ['default']), w('b', ['default', 'gpu'])])).toBeNull();
  });

  it('says no worker serves the queue, and which queues live workers serve', () => {
    expect(unservedQueueReason('gpu', [w('a', ['default']), w('g', ['gpu'], 'lost')])).toBe(
      'no worker serves queue gpu (live workers serve default). Fix: start a worker with --queues gpu ' +
      '(on Docker Swarm: scale up the instance group whose queues include gpu, service <stack>_worker-<group>; see deploy/swarm/groups.yaml)',
    );
  });

  it('names no Swarm service it cannot know (the group serving a queue need not be named after it, the stack need not be "swarmflow")', () => {
    expect(unservedQueueReason('gpu', [])).not.toMatch(/swarmflow_worker-gpu/);
  });

  it('counts draining and stopping workers out, and names them', () => {
    expect(unservedQueueReason('gpu', [w('g1', ['gpu'], 'draining')])).toMatch(/^no worker serves queue gpu \(its workers are stopping \(g1: draining\)\)/);
  });

  it('says when no worker is live at all', () => {
    expect(unservedQueueReason('default', [])).toMatch(/^no worker serves queue default \(no worker is live\)/);
  });
});
