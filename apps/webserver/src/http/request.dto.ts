import { z } from 'zod';

const RUN_STATES = ['queued', 'running', 'success', 'failed'] as const;

/** Run ids travel in URL paths: no slashes, spaces or `?`. */
const RUN_ID = /^[A-Za-z0-9_.:+-]+$/;

export const TriggerRunBody = z.object({
  /** Checked against the DAG's params by the core (`resolveParams`), which names the bad field. */
  conf: z.unknown().optional(),
  runId: z.string().min(1).max(250)
    .regex(RUN_ID, 'may hold letters, digits and _ . : + - only')
    .optional(),
  logicalDate: z.iso.datetime({ offset: true }).optional(),
}).strict();
export type TriggerRunBody = z.infer<typeof TriggerRunBody>;

export const PatchDagBody = z.object({ isPaused: z.boolean() }).strict();
export type PatchDagBody = z.infer<typeof PatchDagBody>;

export const ClearTaskBody = z.object({ downstream: z.boolean().optional() }).strict();
export type ClearTaskBody = z.infer<typeof ClearTaskBody>;

const limit = z.coerce.number().int().min(1).max(1000).default(100);

export const ListRunsQuery = z.object({
  dagId: z.string().min(1).optional(),
  state: z.enum(RUN_STATES).optional(),
  limit,
});
export type ListRunsQuery = z.infer<typeof ListRunsQuery>;

export const ReadLogsQuery = z.object({
  try: z.coerce.number().int().min(1).optional(),
  cursor: z.coerce.number().int().min(0).default(0),
});
export type ReadLogsQuery = z.infer<typeof ReadLogsQuery>;
