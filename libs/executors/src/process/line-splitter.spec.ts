import { LineSplitter, type LineMask } from './line-splitter';

function masker(secret: string): LineMask {
  const mask = ((line: string) => line.split(secret).join('***')) as LineMask;
  Object.defineProperty(mask, 'longest', { value: secret.length });
  return mask;
}

describe('LineSplitter', () => {
  it('masks a line before cutting it: a secret across the cut does not leak its start', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line), 10, masker('SECRET'));
    splitter.write('12345678SECRET and more\n');
    splitter.end();
    // Counted in the masked line: '12345678*** and more' less its first 10.
    expect(lines).toEqual(['12345678** [… 10 characters cut]']);
  });

  it('without a mask, cuts at the length and counts the rest', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line), 4);
    splitter.write('abcdefgh\nok\n');
    splitter.end();
    expect(lines).toEqual(['abcd [… 4 characters cut]', 'ok']);
  });
});
