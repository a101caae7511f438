import { handOffMark, handOffName } from './container-executor';
import { LogDemuxer, sinceOf } from './log-demuxer';

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

  it('a reader given the mark of an earlier one passes on only the frames after it, each once', () => {
    for (let seen = 0; seen <= 5; seen++) {
      const first: string[] = [];
      const a = new LogDemuxer((_s, line) => first.push(line), true);
      let data = log;
      for (let i = 0; i < seen; i++) {
        const size = 8 + data.readUInt32BE(4);
        a.write(data.subarray(0, size));
        data = data.subarray(size);
      }
      const mark = a.mark();
      const second: string[] = [];
      const b = new LogDemuxer((_s, line) => second.push(line), true);
      if (mark) b.skipThrough(mark);
      b.write(log); // read again from before the mark, as Docker's since gives it
      b.end();
      expect([...first, ...second]).toEqual(['a', 'b', 'c', 'd', 'e']);
      // Nothing passed on yet: its mark is the one it was given.
      const c = new LogDemuxer(() => undefined, true);
      if (mark) c.skipThrough(mark);
      expect(c.mark()).toEqual(mark);
    }
  });

  it('frames out of time order (Docker stamps stdout and stderr apart): each once, across two hand-overs', () => {
    // As a busy container's log was read here: the stderr frame stamped before the stdout one is written after it.
    const unordered = Buffer.concat([frame(1, `${t(1)}o1\n`), frame(1, `${t(4)}o2\n`), frame(2, `${t(3)}e1\n`),
      frame(2, `${t(4)}e2\n`), frame(1, `${t(5)}o3\n`), frame(2, `${t(6)}e3\n`)]);
    const sizes: number[] = [];
    for (let data = unordered; data.length > 0; data = data.subarray(8 + data.readUInt32BE(4))) sizes.push(8 + data.readUInt32BE(4));
    const upTo = (n: number) => unordered.subarray(0, sizes.slice(0, n).reduce((a, b) => a + b, 0));
    // Never after 2 frames: a hand-over between o2 and e1 (stamped before o2, written after it) leaves e1 out:
    // time marks cannot tell it from the frames passed on (DESIGN, known limits).
    for (const [seen, secondSeen] of [[1, 3], [1, 4], [3, 4], [3, 5], [4, 5], [5, 6]]) {
      const first: string[] = [];
      const a = new LogDemuxer((_s, line) => first.push(line), true);
      a.write(upTo(seen));
      const second: string[] = [];
      const b = new LogDemuxer((_s, line) => second.push(line), true);
      b.skipThrough(a.mark()!);
      b.write(upTo(secondSeen)); // the next worker reads on, then hands over too
      const third: string[] = [];
      const c = new LogDemuxer((_s, line) => third.push(line), true);
      c.skipThrough(b.mark()!);
      c.write(unordered);
      c.end();
      expect([...first, ...second, ...third]).toEqual(['o1', 'o2', 'e1', 'e2', 'o3', 'e3']);
    }
  });

  it('catchUp with nothing passed on yet leaves out what the earlier reader passed on', () => {
    const lines: string[] = [];
    const demux = new LogDemuxer((_s, line) => lines.push(line), true);
    demux.skipThrough({ time: '2026-12-06T05:00:00.000000002Z', count: 1 });
    demux.catchUp(log);
    demux.end();
    expect(lines).toEqual(['c', 'd', 'e']);
  });

  it('is written into a container name and read back; any earlier mark replaced', () => {
    const mark = { time: '2026-12-06T10:45:12.123456789Z', count: 3 };
    const name = handOffName('swarmflow-12-1-ab12cd34', mark)!;
    expect(name).toBe('swarmflow-12-1-ab12cd34-handoff-20261206T104512.123456789Z-3');
    expect(handOffMark(name)).toEqual(mark);
    const again = handOffName(name, { time: '2026-12-06T10:46:00.000000000Z', count: 0 })!;
    expect(again).toBe('swarmflow-12-1-ab12cd34-handoff-20261206T104600.000000000Z-0');
    expect(handOffMark('swarmflow-12-1-ab12cd34')).toBeNull();
    expect(handOffName('x', { time: 'not a time', count: 1 })).toBeNull();
    expect(sinceOf(mark)).toBeCloseTo(Date.UTC(2026, 11, 6, 10, 45, 12) / 1000 + 0.123456789, 4);
  });
});

