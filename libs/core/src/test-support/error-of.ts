/** Runs `fn` and returns what it threw; fails the test when it does not throw. */
export function errorOf<E = Error>(fn: () => unknown): E {
  try {
    fn();
  } catch (err) {
    return err as E;
  }
  throw new Error('expected the call to throw, it returned');
}
