import { dueLogicalDates, nextRunAfter, validateSchedule, type DueLogicalDatesInput } from './schedule';

const d = (iso: string) => new Date(iso);
const iso = (dates: Date[]) => dates.map((x) => x.toISOString());
const base: DueLogicalDatesInput = {
  schedule: '0 0 * * *',
  startDate: d('2024-01-01T00:00:00Z'),
  catchup: true,
  lastLogicalDate: null,
  firstSeen: d('2024-03-01T00:00:00Z'),
  now: d('2024-01-04T12:00:00Z'),
};

describe('validateSchedule', () => {
  it.each(['0 3 * * *', '*/15 * * * *', '0 0 * * 1-5', '30 0 */2 * * *', '@once', '@hourly', '@daily', '@weekly', '@monthly', '@yearly', ' 0 3 * * * '])(
    'accepts %j',
    (expr) => {
      expect(validateSchedule(expr)).toBeNull();
    },
  );

  it('accepts null (manual only)', () => {
    expect(validateSchedule(null)).toBeNull();
  });

  it.each([
    ['', 'cron expression "" has 0 fields, expected 5 (minute hour day-of-month month day-of-week) or 6 (with seconds first)'],
    ['* * * *', 'cron expression "* * * *" has 4 fields, expected 5 (minute hour day-of-month month day-of-week) or 6 (with seconds first)'],
    ['* * * * * * *', 'cron expression "* * * * * * *" has 7 fields, expected 5 (minute hour day-of-month month day-of-week) or 6 (with seconds first)'],
    ['61 * * * *', 'invalid cron expression "61 * * * *": Constraint error, got value 61 expected range 0-59'],
    ['0 0 30 2 *', 'invalid cron expression "0 0 30 2 *": Invalid explicit day of month definition'],
    ['@minutely', 'unknown schedule preset "@minutely" (use one of @once, @hourly, @daily, @weekly, @monthly, @yearly, @annually)'],
  ])('rejects %j', (expr, message) => {
    expect(validateSchedule(expr)).toBe(message);
  });
});

describe('dueLogicalDates', () => {
  it('with catchup, returns every cron time from the start date (inclusive) to now, oldest first', () => {
    expect(iso(dueLogicalDates(base))).toEqual(['2024-01-01T00:00:00.000Z', '2024-01-02T00:00:00.000Z', '2024-01-03T00:00:00.000Z', '2024-01-04T00:00:00.000Z']);
  });

  it('with catchup, continues strictly after the last logical date', () => {
    expect(iso(dueLogicalDates({ ...base, lastLogicalDate: d('2024-01-02T00:00:00Z') }))).toEqual(['2024-01-03T00:00:00.000Z', '2024-01-04T00:00:00.000Z']);
  });

  it('includes a cron time equal to now, and nothing after it', () => {
    expect(iso(dueLogicalDates({ ...base, lastLogicalDate: d('2024-01-03T00:00:00Z'), now: d('2024-01-04T00:00:00Z') }))).toEqual(['2024-01-04T00:00:00.000Z']);
    expect(dueLogicalDates({ ...base, lastLogicalDate: d('2024-01-04T00:00:00Z'), now: d('2024-01-04T23:59:59.999Z') })).toEqual([]);
  });

  it('caps catchup at limit (default 1000)', () => {
    const minutely = { ...base, schedule: '* * * * *', now: d('2024-01-10T00:00:00Z') };
    expect(dueLogicalDates({ ...minutely, limit: 3 }).map((x) => x.toISOString())).toEqual(['2024-01-01T00:00:00.000Z', '2024-01-01T00:01:00.000Z', '2024-01-01T00:02:00.000Z']);
    expect(dueLogicalDates(minutely)).toHaveLength(1000);
  });

  it('without catchup, returns only the newest due cron time', () => {
    expect(iso(dueLogicalDates({ ...base, catchup: false }))).toEqual(['2024-01-04T00:00:00.000Z']);
  });

  it('without catchup, returns nothing when the newest cron time was already run', () => {
    expect(dueLogicalDates({ ...base, catchup: false, lastLogicalDate: d('2024-01-04T00:00:00Z') })).toEqual([]);
  });

  it('without a start date, starts from when the DAG was first seen (inclusive)', () => {
    const noStart = { ...base, startDate: null, firstSeen: d('2024-01-02T10:00:00Z') };
    expect(iso(dueLogicalDates(noStart))).toEqual(['2024-01-03T00:00:00.000Z', '2024-01-04T00:00:00.000Z']);
    expect(dueLogicalDates({ ...noStart, now: d('2024-01-02T23:00:00Z') })).toEqual([]);
    expect(iso(dueLogicalDates({ ...noStart, firstSeen: d('2024-01-03T00:00:00Z'), catchup: false }))).toEqual(['2024-01-04T00:00:00.000Z']);
  });

  it('returns nothing before the start date', () => {
    expect(dueLogicalDates({ ...base, startDate: d('2024-02-01T00:00:00Z') })).toEqual([]);
    expect(dueLogicalDates({ ...base, catchup: false, startDate: d('2024-01-04T00:00:01Z') })).toEqual([]);
  });

  it('uses the later of start date and last logical date', () => {
    expect(iso(dueLogicalDates({ ...base, startDate: d('2024-01-03T00:00:00Z'), lastLogicalDate: d('2023-12-01T00:00:00Z') }))).toEqual(['2024-01-03T00:00:00.000Z', '2024-01-04T00:00:00.000Z']);
  });

  it('supports presets and 6-field crons (seconds first)', () => {
    expect(iso(dueLogicalDates({ ...base, schedule: '@hourly', now: d('2024-01-01T02:30:00Z') }))).toEqual(['2024-01-01T00:00:00.000Z', '2024-01-01T01:00:00.000Z', '2024-01-01T02:00:00.000Z']);
    expect(iso(dueLogicalDates({ ...base, schedule: '30 0 0 * * *', now: d('2024-01-02T00:00:30Z') }))).toEqual(['2024-01-01T00:00:30.000Z', '2024-01-02T00:00:30.000Z']);
  });

  it('evaluates cron in UTC', () => {
    expect(iso(dueLogicalDates({ ...base, schedule: '0 3 * * *', now: d('2024-01-01T04:00:00Z') }))).toEqual(['2024-01-01T03:00:00.000Z']);
  });

  it('@once yields its start date once', () => {
    expect(iso(dueLogicalDates({ ...base, schedule: '@once' }))).toEqual(['2024-01-01T00:00:00.000Z']);
    expect(dueLogicalDates({ ...base, schedule: '@once', lastLogicalDate: d('2024-01-01T00:00:00Z') })).toEqual([]);
    expect(dueLogicalDates({ ...base, schedule: '@once', now: d('2023-12-31T00:00:00Z') })).toEqual([]);
    expect(iso(dueLogicalDates({ ...base, schedule: '@once', startDate: null, firstSeen: d('2024-01-02T10:00:00Z') }))).toEqual(['2024-01-02T10:00:00.000Z']);
  });

  it('a manual DAG (null schedule) is never due', () => {
    expect(dueLogicalDates({ ...base, schedule: null })).toEqual([]);
  });
});

describe('nextRunAfter', () => {
  it('is not before the start date (inclusive), and ignores a start date already past', () => {
    const now = d('2024-01-01T10:00:00Z');
    expect(nextRunAfter('0 6 * * *', now, d('2024-03-01T00:00:00Z'))?.toISOString()).toBe('2024-03-01T06:00:00.000Z');
    expect(nextRunAfter('0 6 * * *', now, d('2024-03-01T06:00:00Z'))?.toISOString()).toBe('2024-03-01T06:00:00.000Z');
    expect(nextRunAfter('0 6 * * *', now, d('2023-06-01T00:00:00Z'))?.toISOString()).toBe('2024-01-02T06:00:00.000Z');
  });
  it('gives the first cron time strictly after the given time', () => {
    expect(nextRunAfter('0 0 * * *', d('2024-01-01T00:00:00Z'))?.toISOString()).toBe('2024-01-02T00:00:00.000Z');
    expect(nextRunAfter('@monthly', d('2024-01-15T00:00:00Z'))?.toISOString()).toBe('2024-02-01T00:00:00.000Z');
  });

  it('is null for manual and @once schedules', () => {
    expect(nextRunAfter(null, d('2024-01-01T00:00:00Z'))).toBeNull();
    expect(nextRunAfter('@once', d('2024-01-01T00:00:00Z'))).toBeNull();
  });
});
