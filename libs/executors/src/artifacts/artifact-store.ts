import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { artifactsUrlOf, parseArtifactsUrl, type ArtifactsLocation } from '@swarmflow/core';

/** One stored artefact, relative to the prefix it was listed under. */
export interface ArtifactObject {
  /** Path under the listed prefix, '/'-separated (`model/weights.bin`). */
  name: string;
  size: number;
  modifiedAt: Date;
  /** Full URL (s3://bucket/key or file:///path). */
  url: string;
}

/**
 * Where artefacts are kept: one interface over an S3-compatible bucket (AWS S3, MinIO) and a
 * folder, with a contract suite both pass (`artifact-store.contract.ts`).
 */
export interface ArtifactStore {
  /** Every artefact under `location`, by name. */
  list(location: ArtifactsLocation): Promise<ArtifactObject[]>;
  /** Writes `body` at `name` under `location` (folders created as needed). */
  put(location: ArtifactsLocation, name: string, body: Buffer | string): Promise<void>;
  /** Reads `name` under `location`. @throws ArtifactNotFoundError */
  get(location: ArtifactsLocation, name: string): Promise<Buffer>;
}

/** The artefact asked for does not exist. */
export class ArtifactNotFoundError extends Error {
  override name = 'ArtifactNotFoundError';

  constructor(readonly url: string) {
    super(`no artefact at ${url}`);
  }
}

/** How to reach an S3-compatible server: the `artifacts_s3_*` secret variables. */
export interface S3Settings {
  /** e.g. http://minio:9000; null = AWS's own endpoint for the region. */
  endpoint: string | null;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

function checkName(name: string): string {
  const parts = name.split('/');
  if (name === '' || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new Error(`artefact name ${JSON.stringify(name)} must be a relative path without empty, "." or ".." parts (e.g. model/weights.bin)`);
  }
  return name;
}

/** Artefacts in an S3-compatible bucket (path-style requests, as MinIO and s3rver need). */
export class S3ArtifactStore implements ArtifactStore {
  private readonly client: S3Client;

  constructor(settings: S3Settings) {
    this.client = new S3Client({
      region: settings.region, forcePathStyle: true, ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
    });
  }

  async list(location: ArtifactsLocation): Promise<ArtifactObject[]> {
    const { bucket, prefix } = s3Of(location);
    const out: ArtifactObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        out.push({ name: o.Key!.slice(prefix.length), size: o.Size ?? 0, modifiedAt: o.LastModified ?? new Date(0), url: `s3://${bucket}/${o.Key}` });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async put(location: ArtifactsLocation, name: string, body: Buffer | string): Promise<void> {
    const { bucket, prefix } = s3Of(location);
    await this.client.send(new PutObjectCommand({ Bucket: bucket, Key: prefix + checkName(name), Body: body }));
  }

  async get(location: ArtifactsLocation, name: string): Promise<Buffer> {
    const { bucket, prefix } = s3Of(location);
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: prefix + checkName(name) }));
      return Buffer.from(await res.Body!.transformToByteArray());
    } catch (err) {
      if ((err as { name?: string }).name === 'NoSuchKey') throw new ArtifactNotFoundError(`s3://${bucket}/${prefix}${name}`);
      throw err;
    }
  }

  destroy(): void {
    this.client.destroy();
  }
}

/** Artefacts in a folder (standalone's default, or a volume every worker mounts). */
export class FileArtifactStore implements ArtifactStore {
  async list(location: ArtifactsLocation): Promise<ArtifactObject[]> {
    const root = fileOf(location);
    const out: ArtifactObject[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      for (const e of entries) {
        const full = path.join(dir, e.name);
        if (e.isDirectory()) await walk(full);
        else if (e.isFile()) {
          const s = await stat(full);
          out.push({ name: path.relative(root, full).split(path.sep).join('/'), size: s.size, modifiedAt: s.mtime, url: `file://${full}` });
        }
      }
    };
    await walk(root);
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async put(location: ArtifactsLocation, name: string, body: Buffer | string): Promise<void> {
    const file = path.join(fileOf(location), checkName(name));
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, body);
  }

  async get(location: ArtifactsLocation, name: string): Promise<Buffer> {
    const file = path.join(fileOf(location), checkName(name));
    try {
      return await readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ArtifactNotFoundError(`file://${file}`);
      throw err;
    }
  }
}

function s3Of(location: ArtifactsLocation): { bucket: string; prefix: string } {
  if (location.kind !== 's3') throw new Error(`an S3 store was given ${artifactsUrlOf(location)}`);
  return location;
}

function fileOf(location: ArtifactsLocation): string {
  if (location.kind !== 'file') throw new Error(`a file store was given ${artifactsUrlOf(location)}`);
  return location.path;
}

/** The store for an artefacts URL: S3 settings are needed for s3:// only. */
export function artifactStoreFor(url: string, s3: S3Settings | null): { store: ArtifactStore; location: ArtifactsLocation } {
  const location = parseArtifactsUrl(url);
  if (location.kind === 'file') return { store: new FileArtifactStore(), location };
  if (!s3) throw new Error(`${url} is in S3, and no endpoint or credentials were given (the artifacts_s3_* variables)`);
  return { store: new S3ArtifactStore(s3), location };
}
