import { InvalidMemoryError } from '../errors';
import { errorOf } from '../test-support/error-of';
import { parseMemory } from './memory';

describe('parseMemory', () => {
  it.each<[string | number, number]>([
    ['30g', 30 * 1024 ** 3],
    ['512m', 512 * 1024 ** 2],
    ['1.5g', 1.5 * 1024 ** 3],
    ['1024k', 1024 * 1024],
    ['2t', 2 * 1024 ** 4],
    ['512MB', 512 * 1024 ** 2],
    ['512MiB', 512 * 1024 ** 2],
    ['8G', 8 * 1024 ** 3],
    [' 64m ', 64 * 1024 ** 2],
    ['100b', 100],
    ['1073741824', 1024 ** 3],
    [1073741824, 1024 ** 3],
    ['0.3k', 307],
  ])('reads %p as %p bytes', (value, bytes) => {
    expect(parseMemory(value, 'memory')).toBe(bytes);
  });

  it.each<[unknown, string]>([
    ['30 gigs', `docker.resources.memory is not a memory size (got "30 gigs"). Fix: use e.g. '512m', '1.5g', '30g', '1024k', or a whole number of bytes.`],
    ['', `docker.resources.memory is not a memory size (got ""). Fix: use e.g. '512m', '1.5g', '30g', '1024k', or a whole number of bytes.`],
    ['-1g', `docker.resources.memory is not a memory size (got "-1g"). Fix: use e.g. '512m', '1.5g', '30g', '1024k', or a whole number of bytes.`],
    ['0m', `docker.resources.memory must be more than 0 bytes and at most 9007199254740991 (got "0m"). Fix: use e.g. '512m', '1.5g', '30g', '1024k', or a whole number of bytes.`],
    [0, `docker.resources.memory must be a whole number of bytes > 0 (got 0). Fix: use e.g. '512m', '1.5g', '30g', '1024k', or a whole number of bytes.`],
    [1.5, `docker.resources.memory must be a whole number of bytes > 0 (got 1.5). Fix: use e.g. '512m', '1.5g', '30g', '1024k', or a whole number of bytes.`],
    [true, `docker.resources.memory must be a size like '512m' (got true). Fix: use e.g. '512m', '1.5g', '30g', '1024k', or a whole number of bytes.`],
  ])('rejects %p', (value, message) => {
    const err = errorOf<InvalidMemoryError>(() => parseMemory(value as string, 'docker.resources.memory'));
    expect(err).toBeInstanceOf(InvalidMemoryError);
    expect(err.message).toBe(message);
    expect(err).toMatchObject({ field: 'docker.resources.memory', value });
  });
});
