import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArtifactsUrl, tryArtifactsLocation, type ArtifactsLocation } from '@swarmflow/core';
// s3rver ships no types; the little used here is declared by hand.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (o: object) => { run(): Promise<{ port: number }>; close(): Promise<void> };
import { ArtifactNotFoundError, FileArtifactStore, S3ArtifactStore, type ArtifactStore } from './artifact-store';

// One contract, two stores: a folder, and an S3-compatible server (s3rver, in process)
// reached through the AWS SDK as users reach MinIO or S3.

const folder = mkdtempSync(path.join(tmpdir(), 'swarmflow-artifacts-'));

function contract(name: string, setup: () => Promise<{ store: ArtifactStore; base: ArtifactsLocation; stop(): Promise<void> }>): void {
  describe(name, () => {
    let store: ArtifactStore;
    let base: ArtifactsLocation;
    let stop: () => Promise<void>;

    beforeAll(async () => {
      ({ store, base, stop } = await setup());
    });
    afterAll(async () => stop?.());
    const at = (taskId: string, tryNumber: number, runId = 'r1', tiId = 7) => tryArtifactsLocation(base, { dagId: 'ml', runId, taskId, tiId, tryNumber });

    it('lists what a try wrote under its prefix, by name, and reads it back', async () => {
      const train = at('train', 1);
      await store.put(train, 'model/weights.bin', Buffer.from([1, 2, 3]));
      await store.put(train, 'metrics.json', '{"auc":0.9}');
      await store.put(at('train', 2), 'metrics.json', '{"auc":0.95}');
      const listed = await store.list(train);
      expect(listed.map((o) => [o.name, o.size])).toEqual([['metrics.json', 11], ['model/weights.bin', 3]]);
      expect(listed[0].url).toMatch(/\/ml\/r1\/train\/try-1\.ti-7\/metrics\.json$/);
      expect((await store.get(train, 'model/weights.bin')).equals(Buffer.from([1, 2, 3]))).toBe(true);
      expect((await store.get(at('train', 2), 'metrics.json')).toString()).toBe('{"auc":0.95}');
    });

    it('keeps apart runs whose ids differ only where a key could not hold them (a/b, a_b, a%2Fb), and tries of other task instances', async () => {
      const runs = ['a/b', 'a_b', 'a%2Fb', '..', 'ü b'];
      for (const runId of runs) await store.put(at('train', 1, runId), 'who.txt', runId);
      await store.put(at('train', 1, 'a/b', 8), 'who.txt', 'a/b, task instance 8');
      for (const runId of runs) {
        expect((await store.list(at('train', 1, runId))).map((o) => o.name)).toEqual(['who.txt']);
        expect((await store.get(at('train', 1, runId), 'who.txt')).toString()).toBe(runId);
      }
      expect((await store.get(at('train', 1, 'a/b', 8), 'who.txt')).toString()).toBe('a/b, task instance 8');
    });

    it('lists nothing under a prefix nobody wrote to', async () => {
      expect(await store.list(at('nobody', 1))).toEqual([]);
    });

    it('names a missing artefact', async () => {
      await expect(store.get(at('train', 1), 'nope.bin')).rejects.toBeInstanceOf(ArtifactNotFoundError);
    });

    it('refuses names that leave the prefix', async () => {
      await expect(store.put(at('train', 1), '../escape', 'x')).rejects.toThrow('must be a relative path without empty, "." or ".." parts');
    });
  });
}

contract('FileArtifactStore', async () => ({
  store: new FileArtifactStore(), base: parseArtifactsUrl(`file://${path.join(folder, 'store')}`), stop: async () => {},
}));

contract('S3ArtifactStore (s3rver, AWS SDK, path-style)', async () => {
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: path.join(folder, 's3'), configureBuckets: [{ name: 'swarmflow-test' }] });
  const { port } = await server.run();
  const store = new S3ArtifactStore({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
  return {
    store, base: parseArtifactsUrl('s3://swarmflow-test/runs'),
    stop: async () => {
      store.destroy();
      await server.close();
      rmSync(folder, { recursive: true, force: true });
    },
  };
});
