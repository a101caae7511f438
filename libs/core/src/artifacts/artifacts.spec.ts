import { errorOf } from '../test-support/error-of';
import { ArtifactsUrlError, artifactsUrlOf, keyPart, keyPartId, logArchiveLocation, logArchiveName, parseArtifactsUrl, runArtifactsLocation, tryArtifactsLocation } from './artifacts';

describe('artefacts URLs', () => {
  it.each([
    ['s3://ml-data/swarmflow', { kind: 's3', bucket: 'ml-data', prefix: 'swarmflow/' }],
    ['s3://ml-data/a/b/', { kind: 's3', bucket: 'ml-data', prefix: 'a/b/' }],
    ['s3://ml-data', { kind: 's3', bucket: 'ml-data', prefix: '' }],
    ['file:///var/lib/swarmflow/artifacts', { kind: 'file', path: '/var/lib/swarmflow/artifacts/' }],
  ])('parses %s', (url, want) => {
    expect(parseArtifactsUrl(url)).toEqual(want);
  });

  it.each([
    ['http://x/y', 'is neither s3:// nor file:// (an absolute path)'],
    ['s3://UPPER/x', 'names bucket "UPPER", which is not a valid bucket name (3 to 63 lowercase letters, digits, "." or "-")'],
    ['s3://bucket/a//b', 'has an empty, "." or ".." part in its prefix'],
    ['file://relative/x', 'is neither s3:// nor file:// (an absolute path)'],
    ['file:///a/../b', 'has a "." or ".." part'],
  ])('refuses %s', (url, problem) => {
    const err = errorOf<ArtifactsUrlError>(() => parseArtifactsUrl(url));
    expect(err).toBeInstanceOf(ArtifactsUrlError);
    expect(err.message).toBe(`artefacts URL ${JSON.stringify(url)} ${problem}. Fix: use s3://<bucket>/<prefix> (endpoint and credentials from the artifacts_s3_* secret variables) or file:///<absolute folder>.`);
  });

  it('gives each try its own prefix under its run, named by its task instance too', () => {
    const t = { dagId: 'train_ml1m', runId: 'manual__2024-01-01T00:00:00.000Z', taskId: 'train', tiId: 4711, tryNumber: 2 };
    expect(artifactsUrlOf(tryArtifactsLocation(parseArtifactsUrl('s3://mlb/sf'), t)))
      .toBe('s3://mlb/sf/train_ml1m/manual__2024-01-01T00:00:00.000Z/train/try-2.ti-4711/');
    expect(artifactsUrlOf(tryArtifactsLocation(parseArtifactsUrl('file:///tmp/a'), { ...t, dagId: 'd', runId: '..', taskId: 't', tryNumber: 1 })))
      .toBe('file:///tmp/a/d/%2E%2E/t/try-1.ti-4711/');
    // Two task instances (a run made again with the same ids) never share a try's prefix or log.
    const base = parseArtifactsUrl('s3://mlb/sf');
    expect(artifactsUrlOf(tryArtifactsLocation(base, { ...t, tiId: 4712 }))).not.toBe(artifactsUrlOf(tryArtifactsLocation(base, t)));
    expect(logArchiveName({ tiId: 4712, tryNumber: 2 })).toBe('try-2.ti-4712.jsonl');
    expect(artifactsUrlOf(logArchiveLocation(base, 'd', 'r/1', 't'))).toBe('s3://mlb/sf/@logs/d/r%2F1/t/');
  });

  it('makes key parts injective: ids that differ give parts that differ, and each part gives its id back', () => {
    const ids = ['a/b', 'a_b', 'a%2Fb', 'a%b', 'a b', 'a+b', '.', '..', '...', '%2E', '@logs', 'ü', 'u\u0308', 'x'.repeat(250), 'manual__2024-01-01T00:00:00+00:00'];
    const parts = ids.map(keyPart);
    expect(new Set(parts).size).toBe(ids.length);
    for (const [i, part] of parts.entries()) {
      expect(part).toMatch(/^[A-Za-z0-9_.:+%-]+$/);
      expect(part).not.toMatch(/^\.{1,2}$/);
      expect(keyPartId(part)).toBe(ids[i]);
    }
    expect(parts.slice(0, 6)).toEqual(['a%2Fb', 'a_b', 'a%252Fb', 'a%25b', 'a%20b', 'a+b']);
    expect(keyPart('ü')).toBe('%C3%BC');
    // Usual ids are kept as they are: keys stay readable.
    expect(keyPart('manual__2024-01-01T00:00:00.000Z')).toBe('manual__2024-01-01T00:00:00.000Z');
    const base = parseArtifactsUrl('s3://mlb/sf');
    expect(artifactsUrlOf(runArtifactsLocation(base, 'd', 'a/b'))).not.toBe(artifactsUrlOf(runArtifactsLocation(base, 'd', 'a_b')));
  });
});
