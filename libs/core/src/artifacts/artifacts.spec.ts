import { errorOf } from '../test-support/error-of';
import { ArtifactsUrlError, artifactsUrlOf, parseArtifactsUrl, tryArtifactsLocation } from './artifacts';

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

  it('gives each try its own prefix under its run', () => {
    expect(artifactsUrlOf(tryArtifactsLocation(parseArtifactsUrl('s3://mlb/sf'), 'train_ml1m', 'manual__2024-01-01T00:00:00.000Z', 'train', 2)))
      .toBe('s3://mlb/sf/train_ml1m/manual__2024-01-01T00:00:00.000Z/train/try-2/');
    expect(artifactsUrlOf(tryArtifactsLocation(parseArtifactsUrl('file:///tmp/a'), 'd', '..', 't', 1))).toBe('file:///tmp/a/d/_../t/try-1/');
  });
});
