// Windowing for long tables: only the rows in or near the view are rendered, the others are
// one spacer row above and one below (scrolling renders the next ones). Rows must have a
// fixed height (`pitch`, in CSS pixels, with border spacing) for the arithmetic to hold. A
// table whose keyboard focus may move out of the window renders that row besides the window
// (the grid's active cell, see `withKept` in grid.tsx): a recomputed range never drops it.
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';

export interface WindowedRows<E extends HTMLElement> {
  /** First rendered row, and one past the last. */
  start: number;
  end: number;
  /** The scroll box (`scroller: 'self'`), or the table whose rows scroll with the page (`'window'`). */
  ref: React.RefObject<E | null>;
  /** Give it to the scroll box's onScroll (`'self'`); the window's scroll is listened to already. */
  onScroll: () => void;
}

export function useWindowedRows<E extends HTMLElement>(
  count: number,
  { pitch: fixedPitch, from, overscan, scroller, measure }: {
    pitch: number; from: number; overscan: number; scroller: 'self' | 'window';
    /** A selector of a rendered row: its height, once rendered, is the pitch (`pitch` until then). */
    measure?: string;
  },
): WindowedRows<E> {
  const ref = useRef<E | null>(null);
  const compute = useCallback(() => {
    if (count < from) return { start: 0, end: count };
    const el = ref.current;
    const row = measure ? el?.querySelector(measure) : null;
    const pitch = row ? row.getBoundingClientRect().height || fixedPitch : fixedPitch;
    let top = 0;
    let height = 800;
    if (scroller === 'self') {
      top = el ? el.scrollTop : 0;
      height = el?.clientHeight || height;
    } else {
      top = el ? Math.max(0, -el.getBoundingClientRect().top) : 0;
      height = window.innerHeight || height;
    }
    return { start: Math.max(0, Math.floor(top / pitch) - overscan), end: Math.min(count, Math.ceil((top + height) / pitch) + overscan) };
  }, [count, from, fixedPitch, overscan, scroller, measure]);
  const [range, setRange] = useState(compute);
  const onScroll = useCallback(() => {
    const next = compute();
    setRange((prev) => (prev.start === next.start && prev.end === next.end ? prev : next));
  }, [compute]);
  // Once the element is in the page its real scroll position and height are known.
  useLayoutEffect(onScroll, [onScroll]);
  useEffect(() => {
    if (scroller !== 'window') return;
    window.addEventListener('scroll', onScroll, { passive: true });
    window.addEventListener('resize', onScroll);
    return () => {
      window.removeEventListener('scroll', onScroll);
      window.removeEventListener('resize', onScroll);
    };
  }, [scroller, onScroll]);
  return { ...range, ref, onScroll };
}
