import { directArgv } from './direct-command';

describe('directArgv', () => {
  it.each([
    ['true', ['true']],
    ['python train.py --epochs=3 --lr 0.1', ['python', 'train.py', '--epochs=3', '--lr', '0.1']],
    ['  /usr/bin/env\tA=1  ', ['/usr/bin/env', 'A=1']],
    ['./tool user@host:/data,x +y %z', ['./tool', 'user@host:/data,x', '+y', '%z']],
  ])('splits %j into literal words', (command, argv) => {
    expect(directArgv(command)).toEqual(argv);
  });

  it.each([
    'echo $HOME', 'echo "a b"', "echo 'a'", 'ls *.csv', 'cat a?', 'ls [ab]', 'cat ~/x', 'a | b', 'a; b', 'a && b', 'a &',
    'a > out', 'a < in', 'a # comment', 'a `b`', '(a)', '{ a; }', 'a\nb', 'a \\\nb', '! a', 'a\\ b',
  ])('leaves %j to the shell: it is not literal words', (command) => {
    expect(directArgv(command)).toBeNull();
  });

  it.each(['', '   ', 'FOO=1 python x.py', 'cd /tmp', 'exit 3', 'echo hi', 'printf x', 'test -f x', '[ -f x ]', 'kill 1', 'pwd', 'set -e', 'export A', '. ./env', ': nothing', 'wait', 'if'])(
    'leaves %j to the shell: empty, an assignment, or a builtin',
    (command) => {
      expect(directArgv(command)).toBeNull();
    },
  );
});
