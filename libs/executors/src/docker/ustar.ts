/** One file or directory of a tar archive built by {@link ustar}. */
export interface TarEntry {
  /** Path inside the archive, relative (`key`, `dir/key`); a directory ends without `/`. */
  name: string;
  type: 'file' | 'directory';
  /** File content; ignored for directories. */
  content?: Buffer;
  /** Permission bits, e.g. 0o400. */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch. Default 0. */
  mtime?: number;
}

const BLOCK = 512;

/**
 * Writes a POSIX ustar archive (what Docker's `PUT /containers/{id}/archive` reads).
 * Names longer than the 100 bytes ustar allows get a PAX `path` record first, which
 * Docker's Go tar reader understands. No dependency: a few headers and padding.
 */
export function ustar(entries: readonly TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const name = entry.type === 'directory' ? `${entry.name.replace(/\/+$/, '')}/` : entry.name;
    const content = entry.type === 'file' ? entry.content ?? Buffer.alloc(0) : Buffer.alloc(0);
    const mtime = entry.mtime ?? 0;
    if (Buffer.byteLength(name) > 100) {
      const record = paxRecord('path', name);
      blocks.push(header({ name: 'PaxHeader', typeflag: 'x', size: record.length, mode: 0o644, uid: 0, gid: 0, mtime }), pad(record));
    }
    blocks.push(header({
      name: truncateUtf8(name, 100), typeflag: entry.type === 'file' ? '0' : '5', size: content.length,
      mode: entry.mode, uid: entry.uid, gid: entry.gid, mtime,
    }));
    if (content.length > 0) blocks.push(pad(content));
  }
  blocks.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(blocks);
}

interface Header {
  name: string;
  typeflag: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
}

function header(h: Header): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(h.name, 0, 100, 'utf8');
  octal(block, 100, 8, h.mode & 0o7777);
  octal(block, 108, 8, h.uid);
  octal(block, 116, 8, h.gid);
  octal(block, 124, 12, h.size);
  octal(block, 136, 12, h.mtime);
  block.write(h.typeflag, 156, 1, 'latin1');
  block.write('ustar\u000000', 257, 8, 'latin1');
  // The checksum is computed with its own field full of spaces.
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'latin1');
  return block;
}

/** A zero-padded octal number filling `width - 1` digits and a NUL. */
function octal(block: Buffer, offset: number, width: number, value: number): void {
  const digits = value.toString(8);
  if (digits.length > width - 1) throw new RangeError(`${value} does not fit in a ${width}-byte tar field`);
  block.write(`${digits.padStart(width - 1, '0')}\u0000`, offset, width, 'latin1');
}

/** `"<length> <key>=<value>\n"`, where length counts the whole record, its own digits included. */
function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  const bodyLength = Buffer.byteLength(body);
  let length = bodyLength + String(bodyLength).length;
  if (String(length).length + bodyLength !== length) length = bodyLength + String(length).length;
  return Buffer.from(`${length}${body}`, 'utf8');
}

function pad(data: Buffer): Buffer {
  const rest = data.length % BLOCK;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(BLOCK - rest)]);
}

function truncateUtf8(text: string, bytes: number): string {
  const buffer = Buffer.from(text, 'utf8');
  return buffer.length <= bytes ? text : buffer.subarray(0, bytes).toString('utf8').replace(/\uFFFD+$/, '');
}

/**
 * The first regular file of a tar archive (what Docker's `GET /containers/{id}/archive`
 * gives for one file): its content and its size as the header says (the content may be
 * shorter when the archive was cut). Null when the archive holds no regular file.
 */
export function firstTarFile(tar: Buffer): { size: number; content: Buffer } | null {
  for (let at = 0; at + BLOCK <= tar.length;) {
    const header = tar.subarray(at, at + BLOCK);
    if (header.every((b) => b === 0)) return null;
    const size = parseInt(header.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    const type = String.fromCharCode(header[156] || 0x30);
    const start = at + BLOCK;
    if (type === '0' || type === '\0') return { size, content: tar.subarray(start, Math.min(start + size, tar.length)) };
    at = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  return null;
}
