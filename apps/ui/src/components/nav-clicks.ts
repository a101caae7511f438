import type { MouseEvent } from 'react';
import { navigate } from '../router';

/**
 * For big tables of plain <a href> (the grid has thousands): one handler on the container
 * turns a plain left click on a same-origin link into in-page navigation.
 */
export function delegateLinkClicks(event: MouseEvent<HTMLElement>): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const anchor = (event.target as HTMLElement).closest('a');
  if (!anchor || anchor.origin !== window.location.origin || anchor.target) return;
  event.preventDefault();
  navigate(anchor.pathname + anchor.search);
}
