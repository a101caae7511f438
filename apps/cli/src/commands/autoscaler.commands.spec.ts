import { formatAutoscalerHistory, formatAutoscalerStatus } from './autoscaler.commands';

const d = {
  id: 1, at: '2026-12-06T08:00:00.000Z', group: 'gpu', provider: 'swarm-service', action: 'drain', currentReplicas: 3, desiredReplicas: 1, targetReplicas: 1,
  backlog: 0, running: 1, unplaceable: 0, reason: '1 task(s) fit in 1 replica(s)', detail: { drained: ['w.3', 'w.2'], scaleInTo: 1 }, leader: 'm1.7',
};

describe('autoscaler status and history', () => {
  it('shows each group\'s replicas, desired size and why', () => {
    const text = formatAutoscalerStatus([d]);
    expect(text).toMatch(/GROUP\s+PROVIDER\s+REPLICAS\s+DESIRED/);
    expect(text).toMatch(/gpu\s+│?\s*swarm-service/);
    expect(text).toContain('1 task(s) fit in 1 replica(s)');
  });

  it('shows the workers a scale-in step drained', () => {
    expect(formatAutoscalerHistory([d])).toContain('drained w.3,w.2');
  });

  it('says when nothing was recorded', () => {
    expect(formatAutoscalerStatus([])).toBe('No autoscaler decision recorded yet (is `swarmflow autoscaler` running on a manager?).');
  });
});
