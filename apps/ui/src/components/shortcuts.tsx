// Keyboard shortcuts: `?` opens this list (also the "?" button in the top bar), Escape closes
// it. Each view handles its own keys; this is where they are written down for the user.
import { useEffect, useRef, useState } from 'react';

export const SHORTCUTS: { keys: string[]; what: string }[] = [
  { keys: ['?'], what: 'Show or hide these shortcuts' },
  { keys: ['Tab', 'Shift+Tab'], what: 'Move between links, buttons, fields and tables (the focus is outlined); the first Tab offers “Skip to content”' },
  { keys: ['/'], what: 'DAG list: search the DAGs' },
  { keys: ['←', '→', '↑', '↓'], what: 'Grid: move between cells (tasks × runs)' },
  { keys: ['Home', 'End'], what: 'Grid: the oldest / the newest run of the task' },
  { keys: ['PageUp', 'PageDown'], what: 'Grid: ten tasks up / down' },
  { keys: ['Enter'], what: 'Grid: open the try of the focused cell; elsewhere: follow the link or press the button' },
  { keys: ['Escape'], what: 'Close this list or a dialog (clear, mark, kill); on a try’s page: back to the page before (the grid, on the same cell)' },
];

/** True when a key press belongs to a text field (shortcuts leave it alone). */
export function typingIn(target: EventTarget | null): boolean {
  return target instanceof HTMLElement && target.closest('input, textarea, select, [contenteditable]') !== null;
}

/** The `?` button and dialog. */
export function ShortcutsHelp() {
  const [open, setOpen] = useState(false);
  const opener = useRef<Element | null>(null);
  const closeButton = useRef<HTMLButtonElement | null>(null);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === '?' && !typingIn(e.target) && !e.ctrlKey && !e.metaKey && !e.altKey) {
        e.preventDefault();
        setOpen((was) => {
          if (!was) opener.current = document.activeElement;
          return !was;
        });
      } else if (e.key === 'Escape' && open && !e.defaultPrevented) {
        // First in line (capture): Escape closes this list, not also what is under it.
        e.preventDefault();
        e.stopPropagation();
        setOpen(false);
      }
    };
    window.addEventListener('keydown', onKey, true);
    return () => window.removeEventListener('keydown', onKey, true);
  }, [open]);
  useEffect(() => {
    if (open) closeButton.current?.focus();
    else if (opener.current instanceof HTMLElement) {
      opener.current.focus();
      opener.current = null;
    }
  }, [open]);
  return (
    <>
      <button type="button" className="ghost" onClick={() => { opener.current = document.activeElement; setOpen(true); }} title="Keyboard shortcuts (?)" aria-label="Keyboard shortcuts">?</button>
      {open ? (
        <div className="modal-backdrop" onClick={() => setOpen(false)}>
          <div className="card modal" role="dialog" aria-modal="true" aria-label="Keyboard shortcuts" onClick={(e) => e.stopPropagation()}>
            <div className="page-title"><h2 className="h2">Keyboard shortcuts</h2>
              <div className="actions"><button type="button" ref={closeButton} onClick={() => setOpen(false)}>Close (Esc)</button></div>
            </div>
            <table className="table shortcuts">
              <tbody>
                {SHORTCUTS.map((s) => (
                  <tr key={s.what}>
                    <td className="keys">{s.keys.map((k, i) => <span key={k}>{i ? ' ' : ''}<kbd>{k}</kbd></span>)}</td>
                    <td>{s.what}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      ) : null}
    </>
  );
}
