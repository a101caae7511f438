import { handOffMark, handOffName } from './container-executor';
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

describe('hand-over marks (a stopping worker leaves its container to the next worker of its name)', () => {
  const t = (n: number): string => `2026-12-06T05:00:00.00000000${n}Z `;
  const log = Buffer.concat([frame(1, `${t(1)}a\n`), frame(2, `${t(2)}b\n`), frame(1, `${t(2)}c\n`), frame(1, `${t(3)}d\n`), frame(2, `${t(3)}e\n`)]);
  const sizes = (data: Buffer): number[] => {
    const out: number[] = [];
    for (let rest = data; rest.length > 0; rest = rest.subarray(8 + rest.readUInt32BE(4))) out.push(8 + rest.readUInt32BE(4));
    return out;
  };
  const upTo = (data: Buffer, n: number): Buffer => data.subarray(0, sizes(data).slice(0, n).reduce((a, b) => a + b, 0));

  it('a reader told how many frames an earlier one went through passes on only the ones after, each once', () => {
    for (let seen = 0; seen <= 5; seen++) {
      const first: string[] = [];
      const a = new LogDemuxer((_s, line) => first.push(line), true);
      a.write(upTo(log, seen));
      a.write(log.subarray(upTo(log, seen).length, upTo(log, seen).length + 5)); // the start of the next frame: not counted
      expect(a.framesThrough()).toBe(seen);
      const second: string[] = [];
      const b = new LogDemuxer((_s, line) => second.push(line), true);
      b.skipFrames(a.framesThrough());
      b.write(log); // read again from the same since
      b.end();
      expect([...first, ...second]).toEqual(['a', 'b', 'c', 'd', 'e']);
      // Not as far as the earlier reader yet: its count is the one it was given.
      const c = new LogDemuxer(() => undefined, true);
      c.skipFrames(seen);
      c.write(upTo(log, seen > 0 ? seen - 1 : 0));
      expect(c.framesThrough()).toBe(seen);
    }
  });

  it('frames out of time order (Docker stamps stdout and stderr apart): each once, across two hand-overs at any frame', () => {
    // As a busy container's log was read here: frames stamped before ones already passed on are written after them.
    const unordered = Buffer.concat([frame(1, `${t(1)}o1\n`), frame(1, `${t(4)}o2\n`), frame(2, `${t(3)}e1\n`),
      frame(2, `${t(2)}e2\n`), frame(1, `${t(5)}o3\n`), frame(2, `${t(4)}e3\n`)]);
    for (let seen = 0; seen <= 6; seen++) {
      for (let secondSeen = seen; secondSeen <= 6; secondSeen++) {
        const first: string[] = [];
        const a = new LogDemuxer((_s, line) => first.push(line), true);
        a.write(upTo(unordered, seen));
        const second: string[] = [];
        const b = new LogDemuxer((_s, line) => second.push(line), true);
        b.skipFrames(a.framesThrough());
        b.write(upTo(unordered, secondSeen)); // the next worker reads on from the same since, then hands over too
        const third: string[] = [];
        const c = new LogDemuxer((_s, line) => third.push(line), true);
        c.skipFrames(b.framesThrough());
        c.write(unordered);
        c.end();
        expect([...first, ...second, ...third]).toEqual(['o1', 'o2', 'e1', 'e2', 'o3', 'e3']);
      }
    }
  });

  it('catchUp with nothing passed on yet leaves out the frames an earlier reader went through', () => {
    const lines: string[] = [];
    const demux = new LogDemuxer((_s, line) => lines.push(line), true);
    demux.skipFrames(2);
    expect(demux.resumeSince()).toBeNull(); // read again from the stream's own since
    demux.catchUp(log);
    demux.end();
    expect(lines).toEqual(['c', 'd', 'e']);
  });

  it('is written into a container name with the adoption deadline and read back; any earlier mark replaced', () => {
    const mark = { sinceMs: 1_765_017_912_123, frames: 3 };
    const name = handOffName('swarmflow-12-1-ab12cd34', mark, 1_765_018_000_000);
    expect(name).toBe('swarmflow-12-1-ab12cd34-handoff-s1765017912123-n3-u1765018000000');
    expect(handOffMark(name)).toEqual({ ...mark, untilMs: 1_765_018_000_000 });
    const again = handOffName(name, { sinceMs: 0, frames: 40 }, 5);
    expect(again).toBe('swarmflow-12-1-ab12cd34-handoff-s0-n40-u5');
    expect(handOffMark(again)).toEqual({ sinceMs: 0, frames: 40, untilMs: 5 });
    expect(handOffMark('swarmflow-12-1-ab12cd34')).toBeNull();
  });
});
