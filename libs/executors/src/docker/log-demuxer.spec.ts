import { LogDemuxer } from './log-demuxer';

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe('LogDemuxer', () => {
  it('splits frames into stdout and stderr lines, across any chunk boundary', () => {
    const all = Buffer.concat([frame(1, 'hel'), frame(2, 'oops\n'), frame(1, 'lo\nwörld'), frame(1, '\r\nlast')]);
    for (let cut = 1; cut < all.length; cut += 3) {
      const lines: string[] = [];
      const demux = new LogDemuxer((stream, line) => lines.push(`${stream}:${line}`));
      demux.write(all.subarray(0, cut));
      demux.write(all.subarray(cut));
      demux.end();
      expect(lines).toEqual(['stderr:oops', 'stdout:hello', 'stdout:wörld', 'stdout:last']);
    }
  });

  it('keeps a UTF-8 character cut between frames whole', () => {
    const bytes = Buffer.from('é\n');
    const lines: string[] = [];
    const demux = new LogDemuxer((_s, line) => lines.push(line));
    demux.write(Buffer.concat([frameBytes(bytes.subarray(0, 1)), frameBytes(bytes.subarray(1))]));
    demux.end();
    expect(lines).toEqual(['é']);
  });

  it('with timestamps: takes them off, and catches up from the last one without repeating a frame', () => {
    const t = (n: number): string => `2026-12-06T05:00:00.00000000${n}Z `;
    const log = Buffer.concat([frame(1, `${t(1)}out1\n`), frame(2, `${t(2)}err1\n`), frame(1, `${t(2)}a\n`), frame(2, `${t(3)} end\n`), frame(1, `${t(4)}b`)]);
    const lines: string[] = [];
    const demux = new LogDemuxer((stream, line) => lines.push(`${stream}:${line}`), true);
    demux.write(log.subarray(0, 80)); // two frames and the start of the third
    expect(demux.resumeSince()).toBeCloseTo(Date.UTC(2026, 11, 6, 5) / 1000, 4);
    demux.catchUp(log.subarray(frame(1, `${t(1)}out1\n`).length)); // from the time of the last frame seen
    demux.end();
    expect(lines).toEqual(['stdout:out1', 'stderr:err1', 'stdout:a', 'stderr: end', 'stdout:b']);
  });
});

function frameBytes(payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = 1;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}
