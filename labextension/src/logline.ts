// What one entry of the log looks like: a line (a request line compact with its status, a 500's
// line a jump to its traceback, a traceback frame a link to its file, ANSI colours rendered, the
// filter's matches marked), a gap, or a notice. Text goes in as text; only lines with ANSI escapes
// go through JupyterLab's own (escaping, sanitizing) text renderer. The renderer also keeps what
// the user opened (folded frames, raw request lines) so a redrawn window shows them the same.
import { IRenderMime, renderText } from '@jupyterlab/rendermime';

import { statusClass } from './chips';
import { element } from './dom';
import { fileLink, isOpenable } from './editor';
import { englishTrans, Trans } from './i18n';
import { COMPACT_CLASS, RAW_TOGGLE_CLASS, renderCompactRequest, toggleRaw } from './requestline';
import { ILine, ITracebackFrame, LogEntry } from './tokens';
import { describeGroup, IFoldGroup, ITracebackRole } from './traceback';

/** The class of a 500's request line, which jumps to its traceback. */
export const JUMP_CLASS = 'jp-fujita-jump-traceback';

export class LineRenderer {
  constructor(options: LineRenderer.IOptions) {
    this._sanitizer = options.sanitizer;
    this._trans = options.trans ?? englishTrans();
  }

  /**
   * What the view is narrowed to: `query` (lower case) is marked in the text; while narrowed,
   * frames do not fold (a match must show).
   */
  setFilter(query: string, narrowed: boolean): void {
    this._query = query;
    this._narrowed = narrowed;
  }

  /** A node for `entry`. */
  render(entry: LogEntry): HTMLElement {
    const node = document.createElement('div');
    switch (entry.kind) {
      case 'line': {
        const { line } = entry;
        node.className = 'jp-fujita-line';
        node.dataset.seq = String(line.seq);
        node.dataset.stream = line.stream;
        node.title = this._timeFormat.format(line.time * 1000);
        node.dataset.time = node.title; // shown before the line when time stamps are on
        if (line.partial) {
          node.classList.add('jp-fujita-partial');
        }
        markRequest(node, line);
        const plain = !line.text.includes('\x1b');
        if (line.request && typeof line.request.status === 'number' && plain) {
          renderCompactRequest(node, line, host => this._renderText(host, line), this._trans);
          if (this._rawSeqs.has(line.seq)) {
            toggleRaw(node);
          }
        } else {
          this._renderText(node, line);
        }
        if (entry.traceback) {
          this._markTraceback(node, entry.traceback);
        }
        break;
      }
      case 'gap':
        node.className = 'jp-fujita-gap';
        node.dataset.fujitaGap = `${entry.from}-${entry.to}`;
        node.textContent =
          entry.from === entry.to
            ? this._trans.__(
                "Line %1 is missing: it left the server's cache before this page read it.",
                entry.from
              )
            : this._trans.__(
                "Lines %1–%2 are missing: they left the server's cache before this page read them.",
                entry.from,
                entry.to
              );
        break;
      case 'notice':
        node.className = 'jp-fujita-notice';
        node.textContent = entry.text;
        break;
      case 'unloaded':
        node.className = 'jp-fujita-notice';
        node.dataset.fujitaUnloaded = `${entry.from}-${entry.to}`;
        node.textContent = this._trans.__(
          'Lines %1–%2 are not in the page (it holds a bounded number of lines): Download has them.',
          entry.from,
          entry.to
        );
        break;
    }
    return node;
  }

  /** Forget the drawn fold heads: the window is drawn again from scratch. */
  forgetDrawn(): void {
    this._heads.clear();
    this._grown.clear();
  }

  /** Folds that got more frames since they were drawn say so. */
  refreshSummaries(): void {
    for (const id of this._grown) {
      const known = this._heads.get(id);
      if (known && known.node.isConnected) {
        this._renderSummary(known.node, known.group);
      }
    }
    this._grown.clear();
  }

  /**
   * A click in `list` on a fold's summary opens or closes its run of frames; on "raw", shows a
   * request line as is. Whether the click was one of those.
   */
  handleClick(event: MouseEvent, list: HTMLElement): boolean {
    const target = event.target as Element | null;
    const raw = target?.closest?.(`.${RAW_TOGGLE_CLASS}`);
    if (raw && list.contains(raw)) {
      const node = raw.closest<HTMLElement>(`.${COMPACT_CLASS}`);
      if (node) {
        toggleRaw(node);
        const seq = Number(node.dataset.seq);
        if (!this._rawSeqs.delete(seq)) {
          this._rawSeqs.add(seq);
        }
      }
      return true;
    }
    const fold = target?.closest?.('.jp-fujita-fold');
    const head = fold?.closest<HTMLElement>('.jp-fujita-fold-head');
    if (!head || !list.contains(head)) {
      return false;
    }
    const id = Number(head.dataset.fujitaFold);
    const open = !this._openGroups.has(id);
    if (open) {
      this._openGroups.add(id);
    } else {
      this._openGroups.delete(id);
    }
    head.classList.toggle('jp-mod-open', open);
    for (const node of list.querySelectorAll<HTMLElement>(
      `[data-fujita-fold="${id}"]:not(.jp-fujita-fold-head)`
    )) {
      node.classList.toggle('jp-fujita-folded', !open);
    }
    const known = this._heads.get(id);
    if (known) {
      this._renderSummary(head, known.group);
    }
    return true;
  }

  /** The line's text: ANSI colours rendered, a frame's file a link, the filter's matches marked. */
  private _renderText(node: HTMLElement, line: ILine): void {
    if (line.text.includes('\x1b')) {
      node.classList.add('jp-RenderedText');
      void renderText({ host: node, sanitizer: this._sanitizer, source: line.text });
    } else if (line.frame && isOpenable(line.frame.file)) {
      renderFrame(node, line.text, line.frame, this._trans);
    } else if (this._query) {
      appendHighlighted(node, line.text, this._query);
    } else {
      node.textContent = line.text;
    }
  }

  /**
   * A traceback's line: the user's frames stand out; a run of other frames folds under its first
   * line, which says how many frames in which packages (not while narrowed: a match must show).
   */
  private _markTraceback(node: HTMLElement, role: ITracebackRole): void {
    if (role.user) {
      node.classList.add('jp-fujita-userframe');
    }
    const group = role.group;
    if (!group || this._narrowed) {
      return;
    }
    const open = this._openGroups.has(group.id);
    node.dataset.fujitaFold = String(group.id);
    node.classList.add('jp-fujita-libframe');
    if (role.head) {
      node.classList.add('jp-fujita-fold-head');
      node.classList.toggle('jp-mod-open', open);
      const text = element('span', 'jp-fujita-fold-text');
      text.append(...Array.from(node.childNodes));
      const summary = element('span', 'jp-fujita-fold');
      summary.tabIndex = 0;
      summary.setAttribute('role', 'button');
      node.replaceChildren(summary, text);
      this._heads.set(group.id, { node, group });
      this._renderSummary(node, group);
    } else {
      node.classList.toggle('jp-fujita-folded', !open);
      this._grown.add(group.id);
    }
  }

  private _renderSummary(node: HTMLElement, group: IFoldGroup): void {
    const summary = node.querySelector<HTMLElement>('.jp-fujita-fold');
    if (!summary) {
      return;
    }
    const open = this._openGroups.has(group.id);
    summary.textContent = `${open ? '▾' : '▸'} ${describeGroup(group, this._trans)}`;
    summary.title = open
      ? this._trans.__('Fold these frames')
      : this._trans.__('Show these frames (not your code)');
    summary.setAttribute('aria-expanded', String(open));
  }

  private readonly _sanitizer: IRenderMime.ISanitizer;
  private readonly _trans: Trans;
  private readonly _timeFormat = new Intl.DateTimeFormat(undefined, {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit'
  });
  private _query = '';
  private _narrowed = false;
  /** Folded runs of frames the user opened, request lines shown raw (by seq). */
  private readonly _openGroups = new Set<number>();
  private readonly _rawSeqs = new Set<number>();
  /** The first line of each drawn fold, and the folds that grew since they were drawn. */
  private readonly _heads = new Map<number, { node: HTMLElement; group: IFoldGroup }>();
  private readonly _grown = new Set<number>();
}

export namespace LineRenderer {
  export interface IOptions {
    /** Cleans the HTML made from lines with ANSI colours. */
    sanitizer: IRenderMime.ISanitizer;
    trans?: Trans;
  }
}

/** A request line: its status (for colour, and the chips); a 500 jumps to its traceback. */
function markRequest(node: HTMLElement, line: ILine): void {
  const { request } = line;
  if (!request || typeof request.status !== 'number') {
    return;
  }
  node.classList.add('jp-fujita-request');
  node.dataset.fujitaStatus = String(request.status);
  const name = statusClass(request.status);
  if (name !== null) {
    node.classList.add(`jp-fujita-status-${name}`);
  }
  const seq = request.traceback_seq;
  if (typeof seq === 'number') {
    node.classList.add(JUMP_CLASS);
    node.dataset.fujitaTraceback = String(seq);
    node.tabIndex = 0;
    node.setAttribute('role', 'button');
    node.title = `${node.title}: show the traceback of this error`;
  }
}

/** `  File "/…/pages/views.py", line 12, in home`: the `File "…", line N` part a link. */
function renderFrame(node: HTMLElement, text: string, frame: ITracebackFrame, trans: Trans): void {
  const match = /File "[^"]*", line \d+/.exec(text);
  if (match === null) {
    node.append(fileLink(frame.file, frame.line, text, trans));
    return;
  }
  const end = match.index + match[0].length;
  node.append(
    text.slice(0, match.index),
    fileLink(frame.file, frame.line, match[0], trans),
    text.slice(end)
  );
}

/** The text, each case-insensitive match of `query` (lower case) in a <mark>. */
function appendHighlighted(node: HTMLElement, text: string, query: string): void {
  const lower = text.toLowerCase();
  if (lower.length !== text.length) {
    node.textContent = text; // a case mapping that changes lengths: no safe offsets
    return;
  }
  let end = 0;
  for (let at = lower.indexOf(query); at >= 0; at = lower.indexOf(query, end)) {
    const mark = document.createElement('mark');
    mark.className = 'jp-fujita-match';
    mark.textContent = text.slice(at, at + query.length);
    node.append(text.slice(end, at), mark);
    end = at + query.length;
  }
  node.append(text.slice(end));
}
