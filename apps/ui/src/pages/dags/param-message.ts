// A param's API error worded for the trigger form's field, not for a JSON body or the CLI.
import type { ApiError } from '../../api';

/** `must be integer (got "ten"). Fix: enter a whole number.` (an older server's error: its message). */
export function formFieldMessage(error: Pick<ApiError, 'message' | 'problem' | 'hint'>): string {
  if (error.problem === undefined) return error.message;
  // The API's hint is worded for a value one passes (`pass a whole number`); a form's user enters it.
  return error.hint ? `${error.problem}. Fix: ${error.hint.replace(/^pass /, 'enter ')}.` : error.problem;
}
