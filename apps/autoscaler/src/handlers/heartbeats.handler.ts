import { Controller, Inject } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import type { WorkerHeartbeatEvent } from '@swarmflow/core';
import { HeartbeatView } from '../services/heartbeat-view';

export const HEARTBEAT_VIEW = Symbol('HEARTBEAT_VIEW');

/** Reads a heartbeat's fields the autoscaler uses; null when they are missing (the message is dropped). */
export function decodeHeartbeat(body: unknown): WorkerHeartbeatEvent | null {
  const b = body as Partial<WorkerHeartbeatEvent> | null;
  if (!b || b.type !== 'worker.heartbeat' || typeof b.worker !== 'string' || !Array.isArray(b.queues) || !Array.isArray(b.running) || typeof b.state !== 'string') return null;
  return { ...b, hostname: typeof b.hostname === 'string' ? b.hostname : '' } as WorkerHeartbeatEvent;
}

/** Workers' heartbeats (running tries, held tries, queues, state) into the autoscaler's view. */
@Controller()
export class HeartbeatsHandler {
  constructor(@Inject(HEARTBEAT_VIEW) private readonly view: HeartbeatView) {}

  @EventPattern('worker.heartbeat')
  heartbeat(@Payload() body: unknown): void {
    const beat = decodeHeartbeat(body);
    if (beat) this.view.update(beat, Date.now());
  }
}
