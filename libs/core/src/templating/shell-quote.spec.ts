import { quotePlaceholders, shellQuote, UnquotableValueError } from './shell-quote';

const P = /<(\d+)>/g;
const quote = (text: string, ...values: string[]) => quotePlaceholders(text, P, values);

describe('shellQuote', () => {
  it('leaves a word of safe characters as is, so plain commands stay plain', () => {
    for (const v of ['eu', '3', '2024-01-02', '2024-01-02T03:04:05.000Z', 'manual__2024-01-02T03:04:05+00:00', 's3://b/k', 'a,b', 'u@h']) {
      expect(shellQuote(v)).toBe(v);
    }
  });

  it('single-quotes anything else, quotes included', () => {
    expect(shellQuote('eu; id')).toBe(`'eu; id'`);
    expect(shellQuote(`it's`)).toBe(`'it'\\''s'`);
    expect(shellQuote('')).toBe(`''`);
    expect(shellQuote('a=b')).toBe(`'a=b'`);
    expect(shellQuote('$(id) `id`\nx')).toBe("'$(id) `id`\nx'");
  });

  it('escapes for the quotes the command opened', () => {
    expect(shellQuote(`a'b`, 'single')).toBe(`a'\\''b`);
    expect(shellQuote('a"$b`c\\', 'double')).toBe('a\\"\\$b\\`c\\\\');
  });
});

describe('quotePlaceholders', () => {
  it('quotes by the context each value lands in', () => {
    expect(quote('echo <0> "<1>" \'<2>\'', 'a b', 'a"b', "a'b")).toBe(`echo 'a b' "a\\"b" 'a'\\''b'`);
  });

  it('treats $( ) and backticks as unquoted, inside double quotes too', () => {
    expect(quote('echo "$(echo <0>)" `echo <1>`', 'x; id', 'y z')).toBe(`echo "$(echo 'x; id')" \`echo 'y z'\``);
    expect(quote('echo $( (echo a) ; echo <0>)', 'b c')).toBe(`echo $( (echo a) ; echo 'b c')`);
  });

  it('does not let quotes inside a comment change the context', () => {
    expect(quote("echo hi # it's\necho <0>", 'a b')).toBe("echo hi # it's\necho 'a b'");
  });

  it('keeps a value inside a comment on its line', () => {
    expect(quote('echo hi # <0>', 'x\nid')).toBe('echo hi # x id');
  });

  it('escapes values in a here-document for it', () => {
    expect(quote('cat <<EOF\n<0>\nEOF\necho <1>', '$(id) `x` \\', 'a b')).toBe("cat <<EOF\n\\$(id) \\`x\\` \\\\\nEOF\necho 'a b'");
    expect(quote("cat <<'EOF'\n<0>\nEOF", '$(id)')).toBe("cat <<'EOF'\n$(id)\nEOF");
  });

  it('refuses what it cannot quote where it sits', () => {
    expect(() => quote('echo \\<0>', 'x')).toThrow(UnquotableValueError);
    expect(() => quote('cat <<EOF\n<0>\nEOF', 'a\nEOF\nid')).toThrow(/line break/);
    expect(() => quote('cat <<EOF\n<0>\nEOF', 'EOF')).toThrow(/ends its here-document/);
    expect(quote('echo \\\\<0>', 'a b')).toBe("echo \\\\'a b'");
  });
});
