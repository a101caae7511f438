/**
 * Characters a `/bin/sh -c` command may hold and still be one simple command whose words
 * are taken literally: no quoting, expansion, globbing, redirection, operator or comment.
 * Space and tab separate the words.
 */
const LITERAL_WORDS = /^[A-Za-z0-9_\-./,:@%+= \t]+$/;

/**
 * The shell's builtins and reserved words (dash's, plus the common ones of bash): as a
 * command's first word they mean something other than a program found in PATH. `true`
 * and `false` are left out on purpose: the programs do exactly what the builtins do.
 */
const SHELL_WORDS = new Set([
  '.', ':', '[', 'alias', 'bg', 'break', 'builtin', 'case', 'cd', 'chdir', 'command', 'continue', 'declare', 'do',
  'done', 'echo', 'elif', 'else', 'esac', 'eval', 'exec', 'exit', 'export', 'fc', 'fg', 'fi', 'for', 'function',
  'getopts', 'hash', 'if', 'in', 'jobs', 'kill', 'let', 'local', 'printf', 'pwd', 'read', 'readonly', 'return',
  'select', 'set', 'shift', 'source', 'test', 'then', 'time', 'times', 'trap', 'type', 'typeset', 'ulimit', 'umask',
  'unalias', 'unset', 'until', 'wait', 'while',
]);

/**
 * The argv a command string stands for when the shell would only split it on blanks and
 * run the program its first word names (`python train.py --epochs=3`); null when running
 * it needs the shell. Such a command can skip `/bin/sh`, as GNU make does for its recipes:
 * one exec fewer for every task (the shell's start costs about a third of a millisecond
 * of CPU).
 *
 * What the shell would add is kept: `PWD` is set in the environment (see
 * {@link runProcess}), and a program that cannot be started (not found, not executable,
 * a script without `#!`) is run through the shell after all, which gives its usual
 * message and exit code (127, 126) or runs the script.
 */
export function directArgv(command: string): string[] | null {
  if (!LITERAL_WORDS.test(command)) return null;
  const words = command.split(/[ \t]+/).filter((w) => w !== '');
  const first = words[0];
  // An empty command, an assignment (`NAME=value cmd`) or a builtin needs the shell.
  if (first === undefined || first.includes('=') || SHELL_WORDS.has(first)) return null;
  return words;
}
