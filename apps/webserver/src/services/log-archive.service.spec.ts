import { mergeArchived, type ArchivedLine } from './log-archive.service';

const at = '2026-01-01T00:00:00.000Z';
const line = (text: string, seq?: number): ArchivedLine => ({ at, stream: 'stdout', line: text, ...(seq === undefined ? {} : { seq }) });
const texts = (lines: ArchivedLine[]) => lines.map((l) => l.line);

describe('mergeArchived', () => {
  const archived = [line('a1', 1), line('a2', 1), line('c', 3), line('e', 5)];

  it('puts batches the archive lacks among its lines by seq, and leaves out those it holds', () => {
    const merged = mergeArchived(archived, [
      { seq: 6, lines: [line('f')] }, { seq: 4, lines: [line('d')] }, { seq: 3, lines: [line('c again')] }, { seq: 2, lines: [line('b')] },
    ]);
    expect(texts(merged)).toEqual(['a1', 'a2', 'b', 'c', 'd', 'e', 'f']);
    expect(merged.map((l) => l.seq)).toEqual([1, 1, 2, 3, 4, 5, 6]);
  });

  it('takes a batch stored twice (a redelivery) once', () => {
    expect(texts(mergeArchived(archived, [{ seq: 6, lines: [line('f')] }, { seq: 6, lines: [line('f')] }]))).toEqual(['a1', 'a2', 'c', 'e', 'f']);
  });

  it('appends after the lines of an archive that kept no seq', () => {
    expect(texts(mergeArchived([line('old 1'), line('old 2')], [{ seq: 1, lines: [line('late')] }]))).toEqual(['old 1', 'old 2', 'late']);
    expect(texts(mergeArchived(archived, []))).toEqual(['a1', 'a2', 'c', 'e']);
  });
});
