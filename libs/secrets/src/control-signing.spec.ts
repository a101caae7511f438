import { ClusterKey } from './cluster-key';
import { CONTROL_SIGNING_LABEL, ControlSigner } from './control-signing';
import { TASK_SIGNING_LABEL } from './task-signing';

describe('ControlSigner', () => {
  const key = ClusterKey.generate();
  const signer = new ControlSigner(key);

  it('verifies what it signed, for the routing key it was signed for, and nothing else', () => {
    const env = signer.envelope('worker.w1', { type: 'worker.drain', worker: 'w1' }, 1000);
    expect(JSON.parse(env.control)).toEqual({ type: 'worker.drain', worker: 'w1' });
    expect(signer.verify(1000, 'worker.w1', env.control, env.sig)).toBe(true);
    expect(signer.verify(1001, 'worker.w1', env.control, env.sig)).toBe(false);
    expect(signer.verify(1000, 'worker.w2', env.control, env.sig)).toBe(false);
    expect(signer.verify(1000, 'worker.all', env.control, env.sig)).toBe(false);
    expect(signer.verify(1000, 'worker.w1', env.control.replace('w1', 'w2'), env.sig)).toBe(false);
    expect(signer.verify(1000, 'worker.w1', env.control, '')).toBe(false);
    // The same MAC spelled otherwise (no padding, a stray character) is refused: workers remember signatures as given.
    expect(signer.verify(1000, 'worker.w1', env.control, env.sig.replace(/=+$/, ''))).toBe(false);
    expect(signer.verify(1000, 'worker.w1', env.control, ` ${env.sig}`)).toBe(false);
    expect(new ControlSigner(ClusterKey.generate()).verify(1000, 'worker.w1', env.control, env.sig)).toBe(false);
    expect(new ControlSigner(ClusterKey.fromBase64(key.toBase64())).verify(1000, 'worker.w1', env.control, env.sig)).toBe(true);
  });

  it('signs with a key of its own, neither the cluster key nor the task-signing key', () => {
    expect(key.deriveKey(CONTROL_SIGNING_LABEL)).not.toEqual(key.deriveKey(TASK_SIGNING_LABEL));
    expect(key.deriveKey(CONTROL_SIGNING_LABEL)).not.toEqual(Buffer.from(key.toBase64(), 'base64'));
  });
});
