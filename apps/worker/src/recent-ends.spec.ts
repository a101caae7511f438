import { RecentEnds } from './recent-ends';

describe('RecentEnds', () => {
  it('lists the tries reported within keepMs, oldest first, and at most max of them', () => {
    let now = 0;
    const ends = new RecentEnds(1000, 3, () => now);
    ends.add(1, 1);
    now = 500;
    ends.add(2, 1);
    ends.add(3, 2);
    ends.add(4, 1); // over max: the oldest goes
    expect(ends.list()).toEqual([{ tiId: 2, tryNumber: 1 }, { tiId: 3, tryNumber: 2 }, { tiId: 4, tryNumber: 1 }]);
    now = 1600; // past keepMs for all
    expect(ends.list()).toEqual([]);
  });
});
