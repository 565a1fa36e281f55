// Tracebacks read as Django's debug page reads them: the frames of installed code (site-packages,
// Django itself, the standard library) fold into one line per run, the user's own frames (the
// server marks them with `frame`) stand out. A TracebackReader is fed the lines in order and says
// what each one is; the log model keeps that beside the line, the view renders it.
import { englishTrans, Trans } from './i18n';

/** A run of frames that are not the user's, folded into one line. */
export interface IFoldGroup {
  readonly id: number;
  /** How many frames, and which packages they are in ("django", "asgiref", "python"). */
  frames: number;
  packages: string[];
}

/** What a line of a traceback is. */
export interface ITracebackRole {
  /** A line of a folded run (its first line carries the summary). */
  group?: IFoldGroup;
  head?: boolean;
  /** The user's frame line, or its source lines. */
  user?: boolean;
}

const HEADER = 'Traceback (most recent call last):';
const FRAME = /^\s+File "([^"]+)", line \d+/;
const INSTALLED = /[/\\](?:site|dist)-packages[/\\]([^/\\]+)/;

/** "…/site-packages/django/core/handlers/base.py" → "django"; other installed code → "python". */
export function packageOf(path: string): string {
  const match = INSTALLED.exec(path);
  return match ? match[1].replace(/\.py$/, '') : 'python';
}

/** "14 frames in django, asgiref" */
export function describeGroup(group: IFoldGroup, trans: Trans = englishTrans()): string {
  // n is %1 by itself
  return trans._n('%1 frame in %2', '%1 frames in %2', group.frames, group.packages.join(', '));
}

export class TracebackReader {
  /** `newId` numbers the folds: readers of one log share it, so no two folds share an id. */
  constructor(private readonly _newId: () => number) {}

  /** The role of the next line of stderr (other streams do not end a traceback). */
  read(text: string, userFrame: boolean): ITracebackRole | null {
    if (text === HEADER) {
      this._inside = true; // a chained traceback starts a new one
      this._group = null;
      this._user = false;
      return null;
    }
    if (!this._inside) {
      return null;
    }
    const frame = FRAME.exec(text);
    if (frame) {
      if (userFrame) {
        this._group = null;
        this._user = true;
        return { user: true };
      }
      this._user = false;
      const head = this._group === null;
      if (head) {
        this._group = { id: this._newId(), frames: 0, packages: [] };
      }
      const group = this._group!;
      group.frames++;
      const name = packageOf(frame[1]);
      if (!group.packages.includes(name)) {
        group.packages.push(name);
      }
      return { group, head };
    }
    if (text.startsWith(' ') || text.startsWith('\t')) {
      // a frame's source line, or a caret line under it
      if (this._group) {
        return { group: this._group, head: false };
      }
      return this._user ? { user: true } : null;
    }
    // the exception line (or anything else) ends the traceback
    this._inside = false;
    this._group = null;
    this._user = false;
    return null;
  }

  private _inside = false;
  private _group: IFoldGroup | null = null;
  private _user = false;
}
