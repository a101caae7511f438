import { InitialSchema1763700000000 } from './1763700000000-initial-schema';
import { OutboxTaskInstance1763800000000 } from './1763800000000-outbox-task-instance';

/** Every migration, oldest first. */
export const MIGRATIONS = [InitialSchema1763700000000, OutboxTaskInstance1763800000000];
