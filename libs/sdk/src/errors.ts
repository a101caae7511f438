/** The SDK was used in a way that cannot build a DAG (e.g. a task created outside `dag()`). */
export class SdkUsageError extends Error {
  override name = 'SdkUsageError';
  readonly fix: string;

  constructor(problem: string, fix: string) {
    super(`${problem}. Fix: ${fix}.`);
    this.fix = fix;
  }
}
