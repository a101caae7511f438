// What the workers dashboard reads: GET /workers, /workers/:name, /queues (the API's own
// shapes), and the shared contracts of /tries, /queues/history and the live feed (libs/contracts).
export type { QueueDto, WorkerCommandResultDto, WorkerDto } from '../../api-types';
export type { QueueHistory, QueueSample, TriesPage, TryRow, WorkerEvent } from '@swarmflow/contracts';
