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

describe('RecentEnds over many tries', () => {
  it('keeps the latest max, lists a try reported again once (at its latest place), and forgets the expired', () => {
    let now = 0;
    const ends = new RecentEnds(1000, 100, () => now);
    for (let i = 1; i <= 5000; i++) ends.add(i, 1);
    ends.add(4950, 1); // reported again: moves to the end
    const listed = ends.list();
    expect(listed).toHaveLength(100);
    expect(listed[0]).toEqual({ tiId: 4901, tryNumber: 1 });
    expect(listed.at(-1)).toEqual({ tiId: 4950, tryNumber: 1 });
    expect(listed.filter((e) => e.tiId === 4950)).toHaveLength(1);
    now = 500;
    ends.add(1, 2);
    now = 1200; // the first 100 expired, the last one not
    expect(ends.list()).toEqual([{ tiId: 1, tryNumber: 2 }]);
  });
});
