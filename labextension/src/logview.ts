// The log view: a bounded window of DOM lines over the log model. It follows the tail until the
// user scrolls up ("Jump to latest" brings it back), narrows to a filter (text, request status
// classes), shows earlier lines on demand, and renders at most once per animation frame, so a
// flood of lines keeps the page responsive. Text goes in as text; only lines with ANSI escapes go
// through JupyterLab's own (escaping, sanitizing) text renderer. Traceback frames link to their
// file; a 500's request line jumps to its traceback.
import { IRenderMime, renderText } from '@jupyterlab/rendermime';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { StatusClass, statusClass } from './chips';
import { button, element } from './dom';
import { fileLink, handleFileLinks, isOpenable } from './editor';
import { COMPACT_CLASS, RAW_TOGGLE_CLASS, renderCompactRequest, toggleRaw } from './requestline';
import { englishTrans, Trans } from './i18n';
import { IFrame, ILine, ILogModel, LogEntry } from './tokens';
import { describeGroup, IFoldGroup, ITracebackRole } from './traceback';

/** The most entries in the DOM at once. */
export const MAX_RENDERED = 2000;
/** How many entries "Show earlier lines" (or scrolling down an old window) adds. */
const STEP = 1000;
/** Within this many pixels of the bottom counts as at the bottom. */
const SLACK_PX = 8;

export class LogView extends Widget {
  constructor(options: LogView.IOptions) {
    super();
    this._model = options.model;
    this._sanitizer = options.sanitizer;
    this._onJump = options.onJump;
    this._trans = options.trans ?? englishTrans();
    this.addClass('jp-fujita-logArea');

    this._list.className = 'jp-fujita-log';
    this._list.setAttribute('role', 'log');
    this._list.tabIndex = 0;
    this._list.addEventListener('scroll', () => this._onScroll());
    // While following, stay at the bottom when the list gets smaller (a hint, the debugger box or
    // the error banner appearing above it), instead of mistaking that for a scroll up.
    this._resizeObserver = new ResizeObserver(() => {
      if (this._following && this.isVisible) {
        this._scrollToBottom();
      }
    });
    this._resizeObserver.observe(this._list);
    handleFileLinks(this._list, options.onOpenFile);
    this._list.addEventListener('click', event => this._onFoldOrRawClick(event));
    this._list.addEventListener('click', event => this._onJumpClick(event));
    this._list.addEventListener('keydown', event => this._onJumpKey(event));
    this._earlier = button(
      'jp-fujita-overlay jp-fujita-earlier',
      this._trans.__('Show earlier lines'),
      () => this._showEarlier()
    );
    this._jump = button('jp-fujita-overlay jp-fujita-jump', this._trans.__('Jump to latest'), () =>
      this._jumpToLatest()
    );
    this._earlier.hidden = this._jump.hidden = true;
    this.node.append(this._earlier, this._list, this._jump);

    this._model.changed.connect(this._onModelChanged, this);
  }

  /** Show only the lines containing `text` (case-insensitive); empty shows all. */
  setFilter(text: string): void {
    const query = text.trim().toLowerCase();
    if (query !== this._query) {
      this._query = query;
      this._jumpToLatest();
    }
  }

  /** Show only request lines of these status classes; none shows every line. */
  setStatusFilter(classes: ReadonlySet<StatusClass>): void {
    const same =
      classes.size === this._statuses.size && [...classes].every(c => this._statuses.has(c));
    if (!same) {
      this._statuses = new Set(classes);
      this._jumpToLatest();
    }
  }

  /**
   * The user's settings, honoured at once: follow the tail or stay put as lines arrive (then
   * "Jump to latest" brings the new lines), wrap lines or scroll sideways, show time stamps.
   */
  configure(options: LogView.IDisplayOptions): void {
    this._followTail = options.followTail;
    this._list.classList.toggle('jp-mod-nowrap', !options.wrapLines);
    this._list.classList.toggle('jp-mod-timestamps', options.timestamps);
    this._schedule();
  }

  /** Scroll to the line with `seq` (or the first after it), now or once it has arrived. */
  reveal(seq: number): void {
    this._pendingReveal = seq;
    this._schedule();
  }

  dispose(): void {
    if (!this.isDisposed) {
      cancelAnimationFrame(this._frame);
      this._resizeObserver.disconnect();
      this._model.changed.disconnect(this._onModelChanged, this);
      super.dispose();
    }
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._schedule();
  }

  private _onModelChanged(_: ILogModel, change: 'append' | 'reset'): void {
    if (change === 'reset') {
      this._stale = true;
      this._following = true;
    }
    this._schedule();
  }

  private _schedule(): void {
    if (!this._frame) {
      this._frame = requestAnimationFrame(() => this._flush());
    }
  }

  /** Bring the DOM up to date with the model: once per frame at most. */
  private _flush(): void {
    this._frame = 0;
    if (!this.isVisible) {
      return; // measured sizes are zero while hidden; onAfterShow comes back here
    }
    if (this._pendingReveal !== null) {
      this._tryReveal(this._pendingReveal);
    }
    if (this._stale) {
      this._renderTail();
    } else if (this._following) {
      this._extendDown(Infinity);
      this._refreshSummaries();
      if (this._followTail) {
        this._scrollToBottom();
      } // else the new lines wait below the view, "Jump to latest" shows them
    }
    this._updateButtons();
  }

  /** Folds that got more frames since they were drawn say so. */
  private _refreshSummaries(): void {
    for (const id of this._grown) {
      const known = this._heads.get(id);
      if (known && known.node.isConnected) {
        this._renderSummary(known.node, known.group);
      }
    }
    this._grown.clear();
  }

  private _jumpToLatest(): void {
    this._stale = true;
    this._following = true;
    this._schedule();
  }

  private _atBottom(): boolean {
    const list = this._list;
    return list.scrollHeight - list.scrollTop - list.clientHeight <= SLACK_PX;
  }

  private _onScroll(): void {
    const list = this._list;
    const atBottom = this._atBottom();
    if (!atBottom) {
      if (this._following && this._followTail && list.scrollTop >= this._pinnedTop - SLACK_PX) {
        // Not the user (who scrolls up): the list shrank or grew under a pending scroll event.
        this._scrollToBottom();
      } else if (this._followTail) {
        this._following = false;
      } // not following the tail: the window stays at the tail, new lines arrive below
    } else if (this._atEnd()) {
      this._following = true;
    } else if (!this._following) {
      this._extendDown(STEP); // an older window: bring the next lines in as the user goes down
    }
    this._updateButtons();
  }

  private _showEarlier(): void {
    this._following = false;
    this._extendUp(STEP);
    this._updateButtons();
  }

  /** Render the last MAX_RENDERED matching entries. */
  private _renderTail(): void {
    const entries = this._model.entries;
    let from = entries.length;
    for (let count = 0; from > 0 && count < MAX_RENDERED; from--) {
      if (this._matches(entries[from - 1])) {
        count++;
      }
    }
    this._renderWindow(from, entries.length);
    this._following = true;
    this._scrollToBottom();
  }

  /** Render the matching entries of `entries[from, to)`, and nothing else. */
  private _renderWindow(from: number, to: number): void {
    const entries = this._model.entries;
    const nodes: HTMLElement[] = [];
    this._heads.clear();
    this._keys = [];
    for (let i = from; i < to; i++) {
      if (this._matches(entries[i])) {
        nodes.push(this._createNode(entries[i]));
        this._keys.push(entries[i].key);
      }
    }
    this._list.replaceChildren(...nodes);
    this._startKey = from < to ? entries[from].key : null;
    this._endKey = from < to ? entries[to - 1].key : null;
    this._stale = false;
  }

  /** Append up to `limit` matching entries after the window; drop as many from its top. */
  private _extendDown(limit: number): void {
    const entries = this._model.entries;
    if (entries.length === 0) {
      return;
    }
    const start = this._endKey === null ? 0 : this._endKey - entries[0].key + 1;
    if (start < 0 || (limit === Infinity && entries.length - start > MAX_RENDERED)) {
      // Lines left the model before they were shown, or more came than the window holds.
      this._renderTail();
      return;
    }
    const fragment = document.createDocumentFragment();
    let i = start;
    for (let added = 0; i < entries.length && added < limit; i++) {
      if (this._matches(entries[i])) {
        fragment.append(this._createNode(entries[i]));
        this._keys.push(entries[i].key);
        added++;
      }
    }
    if (i === start) {
      return;
    }
    this._startKey ??= entries[start].key;
    this._endKey = entries[i - 1].key;
    this._list.append(fragment);
    this._trim('top');
  }

  /** Prepend up to `limit` matching entries before the window; drop as many from its bottom. */
  private _extendUp(limit: number): void {
    const entries = this._model.entries;
    if (entries.length === 0 || this._startKey === null) {
      return;
    }
    const end = this._startKey - entries[0].key;
    const nodes: HTMLElement[] = [];
    const keys: number[] = [];
    let i = end - 1;
    for (; i >= 0 && nodes.length < limit; i--) {
      if (this._matches(entries[i])) {
        nodes.push(this._createNode(entries[i]));
        keys.push(entries[i].key);
      }
    }
    if (i + 1 >= end) {
      return;
    }
    this._startKey = entries[i + 1].key;
    this._keys.unshift(...keys.reverse());
    this._keepViewport(() => this._list.prepend(...nodes.reverse()));
    this._trim('bottom');
  }

  /** Keep at most MAX_RENDERED nodes, dropping from `side`, the viewport staying still. */
  private _trim(side: 'top' | 'bottom'): void {
    const excess = this._keys.length - MAX_RENDERED;
    if (excess <= 0) {
      return;
    }
    const list = this._list;
    if (side === 'top') {
      this._keepViewport(() => {
        for (let n = 0; n < excess; n++) {
          list.firstElementChild?.remove();
        }
      });
      this._keys.splice(0, excess);
      this._startKey = this._keys[0];
    } else {
      for (let n = 0; n < excess; n++) {
        list.lastElementChild?.remove();
      }
      this._keys.length = MAX_RENDERED;
      this._endKey = this._keys[this._keys.length - 1];
    }
  }

  /** Change the DOM above the viewport without moving what the user reads. */
  private _keepViewport(change: () => void): void {
    const list = this._list;
    const before = list.scrollHeight;
    change();
    if (!this._following) {
      list.scrollTop += list.scrollHeight - before;
    }
  }

  private _tryReveal(seq: number): void {
    const model = this._model;
    if (model.lastSeq === null || model.lastSeq < seq) {
      return; // not here yet: the stream is catching up
    }
    this._pendingReveal = null;
    const entries = model.entries;
    const index = entries.findIndex(e => e.kind === 'line' && e.line.seq >= seq);
    if (index < 0) {
      return;
    }
    const from = Math.max(0, index - MAX_RENDERED / 2);
    this._renderWindow(from, Math.min(entries.length, from + MAX_RENDERED));
    this._following = false;
    const node = this._list.children[this._keys.indexOf(entries[index].key)];
    this._list.querySelector('.jp-mod-highlight')?.classList.remove('jp-mod-highlight');
    node?.classList.add('jp-mod-highlight');
    node?.scrollIntoView({ block: 'center' });
  }

  private _scrollToBottom(): void {
    this._list.scrollTop = this._list.scrollHeight;
    this._pinnedTop = this._list.scrollTop;
  }

  private _atEnd(): boolean {
    const entries = this._model.entries;
    return entries.length === 0 || this._endKey === entries[entries.length - 1].key;
  }

  private _updateButtons(): void {
    const entries = this._model.entries;
    const hasEarlier =
      entries.length > 0 && this._startKey !== null && this._startKey > entries[0].key;
    this._earlier.hidden = !(hasEarlier && this._list.scrollTop <= SLACK_PX);
    this._jump.hidden = this._following && (this._followTail || this._atBottom());
  }

  private _matches(entry: LogEntry): boolean {
    if (this._statuses.size > 0) {
      const request = entry.kind === 'line' ? entry.line.request : undefined;
      const name = request ? statusClass(request.status) : null;
      if (name === null || !this._statuses.has(name)) {
        return false;
      }
    }
    if (!this._query) {
      return true;
    }
    return entry.kind === 'line' && entry.line.text.toLowerCase().includes(this._query);
  }

  /** A click on a 500's request line shows its traceback (unless it ended a text selection). */
  private _onJumpClick(event: MouseEvent): void {
    const seq = this._jumpTarget(event);
    if (seq !== null && (window.getSelection()?.isCollapsed ?? true)) {
      this._onJump(seq);
    }
  }

  private _onJumpKey(event: KeyboardEvent): void {
    if (event.key !== 'Enter' && event.key !== ' ') {
      return;
    }
    const seq = this._jumpTarget(event);
    if (seq !== null) {
      event.preventDefault();
      this._onJump(seq);
    }
  }

  private _jumpTarget(event: Event): number | null {
    const target = event.target as Element | null;
    if (target?.closest?.(`.${RAW_TOGGLE_CLASS}`)) {
      return null; // the "raw" button of a 500's line shows the line, it does not jump
    }
    const node = target?.closest?.('.jp-fujita-jump-traceback');
    if (!(node instanceof HTMLElement) || !this._list.contains(node)) {
      return null;
    }
    const seq = Number(node.dataset.fujitaTraceback);
    return Number.isInteger(seq) ? seq : null;
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
   * line, which says how many frames in which packages (not while filtering: a match must show).
   */
  private _markTraceback(node: HTMLElement, role: ITracebackRole | null | undefined): void {
    if (!role) {
      return;
    }
    if (role.user) {
      node.classList.add('jp-fujita-userframe');
    }
    const group = role.group;
    if (!group || this._query || this._statuses.size > 0) {
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

  /** A fold's summary opens or closes its run of frames; "raw" shows a request line as is. */
  private _onFoldOrRawClick(event: MouseEvent): void {
    const target = event.target as Element | null;
    const raw = target?.closest?.(`.${RAW_TOGGLE_CLASS}`);
    if (raw && this._list.contains(raw)) {
      const node = raw.closest<HTMLElement>(`.${COMPACT_CLASS}`);
      if (node) {
        toggleRaw(node);
        const seq = Number(node.dataset.seq);
        if (!this._rawSeqs.delete(seq)) {
          this._rawSeqs.add(seq);
        }
      }
      return;
    }
    const fold = target?.closest?.('.jp-fujita-fold');
    const head = fold?.closest<HTMLElement>('.jp-fujita-fold-head');
    if (!head || !this._list.contains(head)) {
      return;
    }
    const id = Number(head.dataset.fujitaFold);
    const open = !this._openGroups.has(id);
    if (open) {
      this._openGroups.add(id);
    } else {
      this._openGroups.delete(id);
    }
    head.classList.toggle('jp-mod-open', open);
    for (const node of this._list.querySelectorAll<HTMLElement>(
      `[data-fujita-fold="${id}"]:not(.jp-fujita-fold-head)`
    )) {
      node.classList.toggle('jp-fujita-folded', !open);
    }
    const known = this._heads.get(id);
    if (known) {
      this._renderSummary(head, known.group);
    }
  }

  private _createNode(entry: LogEntry): HTMLElement {
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
    }
    return node;
  }

  private readonly _model: ILogModel;
  private readonly _sanitizer: IRenderMime.ISanitizer;
  private readonly _onJump: (seq: number) => void;
  private readonly _trans: Trans;
  private readonly _list = document.createElement('div');
  private readonly _earlier: HTMLButtonElement;
  private readonly _jump: HTMLButtonElement;
  private readonly _timeFormat = new Intl.DateTimeFormat(undefined, {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit'
  });
  /** Keys of the rendered entries, in DOM order. */
  private _keys: number[] = [];
  /** The first and last model entries the window covers (rendered or filtered out). */
  private _startKey: number | null = null;
  private _endKey: number | null = null;
  private _query = '';
  private _statuses: ReadonlySet<StatusClass> = new Set();
  private _following = true;
  private _followTail = true;
  /** Folded runs of frames the user opened, request lines shown raw (by seq). */
  private readonly _openGroups = new Set<number>();
  private readonly _rawSeqs = new Set<number>();
  /** The first line of each drawn fold, and the folds that grew since they were drawn. */
  private readonly _heads = new Map<number, { node: HTMLElement; group: IFoldGroup }>();
  private readonly _grown = new Set<number>();
  private _stale = true;
  private _pendingReveal: number | null = null;
  private _frame = 0;
  /** Where the last scroll to the bottom left the list: below it, a scroll is not the user's. */
  private _pinnedTop = 0;
  private readonly _resizeObserver: ResizeObserver;
}

export namespace LogView {
  export interface IDisplayOptions {
    followTail: boolean;
    wrapLines: boolean;
    timestamps: boolean;
  }

  export interface IOptions {
    model: ILogModel;
    sanitizer: IRenderMime.ISanitizer;
    /** Open a traceback frame's file at its line. */
    onOpenFile: (file: string, line: number | null) => void;
    /** Show the traceback starting at `seq` (from a 500's request line). */
    onJump: (seq: number) => void;
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
    node.classList.add('jp-fujita-jump-traceback');
    node.dataset.fujitaTraceback = String(seq);
    node.tabIndex = 0;
    node.setAttribute('role', 'button');
    node.title = `${node.title}: show the traceback of this error`;
  }
}

/** `  File "/…/pages/views.py", line 12, in home`: the `File "…", line N` part a link. */
function renderFrame(node: HTMLElement, text: string, frame: IFrame, trans: Trans): void {
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
