// What the workers dashboard reads: GET /workers, /workers/:name, /queues (shapes of
// apps/webserver's WorkerDto and QueueDto), and the shared contracts of /tries,
// /queues/history and the live feed (libs/contracts).
export type { QueueHistory, QueueSample, TriesPage, TryRow, WorkerEvent } from '@swarmflow/contracts';

export interface WorkerDto {
  name: string;
  hostname: string;
  queues: string[];
  concurrency: number;
  gpus: number;
  /** active, draining, stopping, stopped, lost. */
  state: string;
  running: { tiId: number; tryNumber: number }[];
  firstSeenAt: string;
  lastHeartbeatAt: string;
  heartbeatAgeSeconds: number;
  processed: number;
  failed: number;
  startedAt: string | null;
  uptimeSeconds: number | null;
  version: string | null;
  unacked: Record<string, number>;
}

export interface QueueDto {
  queue: string;
  declared: boolean;
  ready: number;
  unacked: number;
  consumers: number;
  workers: { name: string; state: string }[];
}

export interface WorkerCommandResultDto {
  worker: string;
  command: string;
  state: string;
  message: string;
}
