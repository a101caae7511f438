import { ClusterKey, SecretDecryptError } from './cluster-key';
import { TASK_SIGNING_LABEL, TaskSigner, taskSecretContext } from './task-signing';

describe('TaskSigner', () => {
  const key = ClusterKey.generate();
  const signer = new TaskSigner(key);
  const message = JSON.stringify({ tiId: 1, tryNumber: 1, command: 'echo hi' });

  it('verifies what it signed, and nothing else', () => {
    const sig = signer.sign(1000, message);
    expect(signer.verify(1000, message, sig)).toBe(true);
    expect(signer.verify(1001, message, sig)).toBe(false);
    expect(signer.verify(1000, message.replace('echo hi', 'id'), sig)).toBe(false);
    expect(signer.verify(1000, message, '')).toBe(false);
    expect(signer.verify(1000, message, 'not base64!')).toBe(false);
    expect(new TaskSigner(ClusterKey.generate()).verify(1000, message, sig)).toBe(false);
    expect(new TaskSigner(ClusterKey.fromBase64(key.toBase64())).verify(1000, message, sig)).toBe(true);
  });

  it('signs with a key of its own, not the cluster key', () => {
    expect(key.deriveKey(TASK_SIGNING_LABEL)).not.toEqual(Buffer.from(key.toBase64(), 'base64'));
    expect(key.deriveKey(TASK_SIGNING_LABEL)).not.toEqual(key.deriveKey('another label'));
    expect(key.deriveKey(TASK_SIGNING_LABEL)).toHaveLength(32);
  });
});

describe('sealing for a task try (AES-GCM additional data)', () => {
  const key = ClusterKey.generate();
  const here = taskSecretContext('secret', 'db_password', 7, 2);

  it('opens only for the variable, task instance and try it was sealed for', () => {
    const token = key.encryptFor('hunter2', here);
    expect(token).toMatch(/^v2\./);
    expect(key.decryptFor(token, here)).toBe('hunter2');
    for (const other of [
      taskSecretContext('secret', 'db_password', 7, 3),
      taskSecretContext('secret', 'db_password', 8, 2),
      taskSecretContext('secret', 'other', 7, 2),
      taskSecretContext('registry', 'db_password', 7, 2),
    ]) {
      expect(() => key.decryptFor(token, other)).toThrow(expect.objectContaining({ name: 'SecretDecryptError', reason: 'wrong_context' }));
    }
    expect(() => ClusterKey.generate().decryptFor(token, here)).toThrow(expect.objectContaining({ reason: 'wrong_context' }));
  });

  it('refuses an at-rest (v1) token where a bound one is due, and a bound one where an at-rest one is', () => {
    expect(() => key.decryptFor(key.encrypt('hunter2'), here)).toThrow(expect.objectContaining({ reason: 'unbound' }));
    expect(() => key.decrypt(key.encryptFor('hunter2', here))).toThrow(expect.objectContaining({ reason: 'unbound' }));
    let message = '';
    try {
      key.decryptFor(key.encrypt('hunter2'), here);
    } catch (err) {
      message = (err as SecretDecryptError).message;
    }
    expect(message).not.toContain('hunter2');
  });
});
