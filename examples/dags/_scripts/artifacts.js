'use strict';
// The example scripts' artefacts, in the store the worker names for the try:
//   node artifacts.js put <local file> <name>         -> $SWARMFLOW_ARTIFACTS_URL<name>
//   node artifacts.js get <task> <name> <local file>  <- the newest try of <task> in $SWARMFLOW_ARTIFACTS_RUN_URL,
//                                                       or, when <task> ended `cached`, the try it took its outputs
//                                                       from ($SWARMFLOW_ARTIFACTS_CACHED_URLS, a JSON map task -> prefix)
// s3:// uses the AWS SDK with what the worker sets: AWS_ENDPOINT_URL, AWS_REGION, and the keys in the
// file AWS_SHARED_CREDENTIALS_FILE names, which the SDK reads itself (path-style, as MinIO
// needs); file:// is a folder. Exit 2 when the artefact does not exist.
const fs = require('node:fs');
const path = require('node:path');

const [cmd, ...args] = process.argv.slice(2);
const location = (url) => {
  const s3 = /^s3:\/\/([^/]+)\/(.*)$/.exec(url);
  if (s3) return { kind: 's3', bucket: s3[1], prefix: s3[2] };
  const file = /^file:\/\/(\/.*)$/.exec(url);
  if (file) return { kind: 'file', path: file[1] };
  throw new Error(`not an artefacts URL: ${url}`);
};
const tryOf = (key) => Number((/\/try-(\d+)[./]/.exec(key) || [0, 0])[1]);

async function main() {
  if (cmd === 'put') {
    const [file, name] = args;
    const at = location(process.env.SWARMFLOW_ARTIFACTS_URL);
    if (at.kind === 'file') {
      fs.mkdirSync(path.dirname(path.join(at.path, name)), { recursive: true });
      fs.copyFileSync(file, path.join(at.path, name));
      return;
    }
    const { s3, PutObjectCommand } = client();
    await s3.send(new PutObjectCommand({ Bucket: at.bucket, Key: at.prefix + name, Body: fs.readFileSync(file) }));
    return;
  }
  if (cmd === 'get') {
    const [task, name, file] = args;
    const cached = JSON.parse(process.env.SWARMFLOW_ARTIFACTS_CACHED_URLS || '{}')[task];
    if (cached) return getExact(location(cached), task, name, file);
    const at = location(process.env.SWARMFLOW_ARTIFACTS_RUN_URL);
    if (at.kind === 'file') {
      const dir = path.join(at.path, task);
      const tries = fs.existsSync(dir) ? fs.readdirSync(dir).filter((d) => fs.existsSync(path.join(dir, d, name))) : [];
      const newest = tries.sort((a, b) => tryOf(`/${a}/`) - tryOf(`/${b}/`)).pop();
      if (!newest) missing(task, name);
      fs.copyFileSync(path.join(dir, newest, name), file);
      return;
    }
    const { s3, ListObjectsV2Command, GetObjectCommand } = client();
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: at.bucket, Prefix: `${at.prefix}${task}/` }));
    const keys = (listed.Contents || []).map((o) => o.Key).filter((k) => k.endsWith(`/${name}`)).sort((a, b) => tryOf(a) - tryOf(b));
    if (keys.length === 0) missing(task, name);
    const got = await s3.send(new GetObjectCommand({ Bucket: at.bucket, Key: keys[keys.length - 1] }));
    fs.writeFileSync(file, await got.Body.transformToByteArray());
    return;
  }
  throw new Error('usage: artifacts.js put <file> <name> | get <task> <name> <file>');
}

/** A cached task's artefact: its files are under the one prefix of its source try (another run's). */
async function getExact(at, task, name, file) {
  if (at.kind === 'file') {
    if (!fs.existsSync(path.join(at.path, name))) missing(task, name);
    fs.copyFileSync(path.join(at.path, name), file);
    return;
  }
  const { s3, GetObjectCommand } = client();
  let got;
  try {
    got = await s3.send(new GetObjectCommand({ Bucket: at.bucket, Key: at.prefix + name }));
  } catch (err) {
    if (err && (err.name === 'NoSuchKey' || (err.$metadata && err.$metadata.httpStatusCode === 404))) missing(task, name);
    throw err;
  }
  fs.writeFileSync(file, await got.Body.transformToByteArray());
}

function client() {
  const { S3Client, PutObjectCommand, GetObjectCommand, ListObjectsV2Command } = require('@aws-sdk/client-s3');
  const s3 = new S3Client({ endpoint: process.env.AWS_ENDPOINT_URL || undefined, region: process.env.AWS_REGION || 'us-east-1', forcePathStyle: true });
  return { s3, PutObjectCommand, GetObjectCommand, ListObjectsV2Command };
}

function missing(task, name) {
  const cached = JSON.parse(process.env.SWARMFLOW_ARTIFACTS_CACHED_URLS || '{}')[task];
  console.error(`no artefact "${name}" from task "${task}" in ${cached || process.env.SWARMFLOW_ARTIFACTS_RUN_URL}`);
  process.exit(2);
}

main().catch((err) => {
  console.error(err && err.message ? err.message : err);
  process.exit(1);
});
