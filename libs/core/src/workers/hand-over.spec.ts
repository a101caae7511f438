import { awaitsAdoption, notAdoptedReason, pendingHandOver } from './hand-over';

describe('hand-over windows', () => {
  const t1 = { tiId: 7, tryNumber: 1 };

  it('takes the window as an offset from the heartbeat, on the receipt clock (worker clock skew plays no part)', () => {
    // The worker's clock is an hour behind; the window is 2 minutes from its heartbeat.
    const beat = { at: '2026-12-06T12:00:00.000Z', handedOver: { tries: [t1], until: '2026-12-06T12:02:00.000Z' } };
    const received = new Date('2026-12-06T13:00:00.500Z');
    expect(pendingHandOver(beat, received)).toEqual({ tries: [t1], until: new Date('2026-12-06T13:02:00.500Z') });
    expect(pendingHandOver({ at: beat.at }, received)).toBeNull();
    expect(pendingHandOver({ at: beat.at, handedOver: { tries: [], until: beat.handedOver.until } }, received)).toBeNull();
    expect(pendingHandOver({ at: 'garbage', handedOver: beat.handedOver }, received)).toBeNull();
  });

  it('a handed-over try waits for adoption until the window runs out; other tries and tries of other numbers do not', () => {
    const pending = { tries: [t1], until: new Date('2026-12-06T13:02:00Z') };
    expect(awaitsAdoption(t1, pending, new Date('2026-12-06T13:01:59Z'))).toBe(true);
    expect(awaitsAdoption(t1, pending, new Date('2026-12-06T13:02:00Z'))).toBe(false);
    expect(awaitsAdoption({ tiId: 7, tryNumber: 2 }, pending, new Date('2026-12-06T13:00:00Z'))).toBe(false);
    expect(awaitsAdoption({ tiId: 8, tryNumber: 1 }, pending, new Date('2026-12-06T13:00:00Z'))).toBe(false);
    expect(awaitsAdoption(t1, null, new Date('2026-12-06T13:00:00Z'))).toBe(false);
    expect(notAdoptedReason('w.1', 3)).toBe('worker w.1 handed try 3 over and no worker of that name adopted it in time (SWARMFLOW_HANDOFF_TIMEOUT)');
  });
});
