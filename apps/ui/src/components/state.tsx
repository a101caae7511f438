// States shown with a colour AND an icon and a word (never colour alone).
import type { DagRunState, TiState } from '../api-types';

export type AnyState = TiState | DagRunState | 'none';

const ICON: Record<string, string> = {
  success: '✓',
  failed: '✗',
  running: '▶',
  queued: '…',
  scheduled: '◷',
  up_for_retry: '↻',
  upstream_failed: '⚠',
  skipped: '⤼',
  removed: '⊘',
  cached: '◆',
  none: '○',
};

const LABEL: Record<string, string> = { up_for_retry: 'up for retry', upstream_failed: 'upstream failed', none: 'not started' };

export function stateIcon(state: string): string {
  return ICON[state] ?? '?';
}

export function stateLabel(state: string): string {
  return LABEL[state] ?? state;
}

/** A pill: icon + state name, coloured by state. */
export function StateBadge({ state, compact = false }: { state: string; compact?: boolean }) {
  return (
    <span className={`state state-${state}${compact ? ' state-compact' : ''}`} title={stateLabel(state)} data-state={state}>
      <span aria-hidden="true" className="state-icon">{stateIcon(state)}</span>
      {compact ? <span className="sr-only">{stateLabel(state)}</span> : <span>{stateLabel(state)}</span>}
    </span>
  );
}
