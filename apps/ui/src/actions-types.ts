// Shapes of the task actions added with mark and clear preview (issue 13's routes: mark,
// clear `dryRun`, run cancel). Kept here until those types are in the shared api.types.
import type { TiState } from './api-types';

export interface ClearPreviewDto {
  dagId: string;
  runId: string;
  cleared: string[];
  dryRun?: true;
  taskInstances?: { taskId: string; state: TiState; tryNumber: number }[];
  busy?: { taskId: string; state: TiState }[];
}

export interface MarkResultDto {
  dagId: string;
  runId: string;
  taskId: string;
  state: 'success' | 'failed';
  dryRun: boolean;
  changes: { taskId: string; from: TiState; to: TiState; tryNumber: number }[];
  stopped: { taskId: string; tryNumber: number; sentTo: string }[];
}
