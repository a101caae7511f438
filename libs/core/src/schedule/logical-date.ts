import { LogicalDateInFutureError } from '../errors';

/**
 * How far past `now` a manual trigger's logical date may be: a client that sends its own
 * "now" may run a little ahead of the server's clock. Airflow allows none; a minute is
 * far below any schedule's interval, so no run reaches into data that does not exist yet.
 */
export const LOGICAL_DATE_FUTURE_TOLERANCE_MS = 60_000;

/**
 * Checks the logical date a manual trigger asked for.
 * @throws LogicalDateInFutureError when it is later than `now` + {@link LOGICAL_DATE_FUTURE_TOLERANCE_MS}
 */
export function checkManualLogicalDate(logicalDate: Date, now: Date): void {
  if (logicalDate.getTime() > now.getTime() + LOGICAL_DATE_FUTURE_TOLERANCE_MS) {
    throw new LogicalDateInFutureError(logicalDate, now, LOGICAL_DATE_FUTURE_TOLERANCE_MS);
  }
}
