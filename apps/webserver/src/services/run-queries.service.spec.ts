import type { TiState } from '@swarmflow/core';
import { tryFinished } from './run-queries.service';

describe('tryFinished', () => {
  it.each<[TiState, number, number, boolean]>([
    ['running', 2, 2, false], // the current try is writing
    ['queued', 2, 2, false],
    ['running', 2, 1, true], // an older try
    ['success', 1, 1, true],
    ['up_for_retry', 1, 1, true],
    ['none', 0, 1, false], // not started yet: its first try will come
    ['scheduled', 1, 2, false],
    ['up_for_retry', 1, 2, false],
    ['upstream_failed', 0, 1, true], // will never start
    ['success', 1, 2, true],
  ])('%s at try %i, asking for try %i → %p', (state, current, asked, finished) => {
    expect(tryFinished({ state, tryNumber: current }, asked)).toBe(finished);
  });
});
