import { supersededTries } from './task-instance.repository';

describe('supersededTries', () => {
  it('names the try a retry\'s queue step or a clear supersedes, each once; a plain run supersedes none', () => {
    const plain = [{ id: 1, to: 'scheduled', tryNumber: 0 }, { id: 1, to: 'queued', tryNumber: 1 }, { id: 1, to: 'running', tryNumber: 1 }, { id: 1, to: 'success', tryNumber: 1 }] as const;
    expect(supersededTries([...plain])).toEqual([]);
    // A retry: up_for_retry → scheduled at try 1 (the instance scheduled again), then try 2 queued.
    expect(supersededTries([{ id: 1, to: 'scheduled', tryNumber: 1 }, { id: 1, to: 'queued', tryNumber: 2 }, { id: 2, to: 'queued', tryNumber: 3 }]))
      .toEqual([{ tiId: 1, tryNumber: 1 }, { tiId: 2, tryNumber: 2 }]);
    // A clear of an ended try 2.
    expect(supersededTries([{ id: 5, to: 'none', tryNumber: 2 }])).toEqual([{ tiId: 5, tryNumber: 2 }]);
  });
});
