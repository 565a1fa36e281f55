// The log view: a bounded window of DOM lines over the log model. It follows the tail until the
// user scrolls up ("Jump to latest" brings it back), narrows to a filter (text, request status
// classes), shows earlier lines on demand, and renders at most once per animation frame, so a
// flood of lines keeps the page responsive. A 500's request line jumps to its traceback. What each
// line looks like is logline.ts's business.
import { IRenderMime } from '@jupyterlab/rendermime';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { StatusClass, statusClass } from './chips';
import { button } from './dom';
import { handleFileLinks } from './editor';
import { englishTrans, Trans } from './i18n';
import { JUMP_CLASS, LineRenderer } from './logline';
import { RAW_TOGGLE_CLASS } from './requestline';
import { ILogModel, LogEntry } from './tokens';

/** The most entries in the DOM at once. */
export const MAX_RENDERED = 2000;
/** How many entries "Show earlier lines" (or scrolling down an old window) adds. */
const STEP = 1000;
/**
 * While following, at most this many entries are drawn in one frame. The viewport shows a few
 * dozen; drawing all of a flood's thousands a frame is what made the page slow (a new node's
 * style and layout cost the frame, not the script). The window grows back to MAX_RENDERED in
 * the frames after the flood.
 */
const FRAME_ENTRIES = 50;
/**
 * While lines arrive faster than frames can draw them, the tail is drawn this often (ms): they
 * scroll by too fast to read anyway, and each draw's style, layout and paint is main-thread
 * time the WebSocket's next messages wait for. Drawn every 100 ms, a 200,000-line flood
 * showed its last line ~1.1 s after the view returned; every 300 ms, ~0.8 s.
 */
const FLOOD_DRAW_MS = 300;
/** Once no lines came for this long (ms), a flood is over: its last lines are drawn at once. */
const FLOOD_OVER_MS = 40;
/** Within this many pixels of the bottom counts as at the bottom. */
const SLACK_PX = 8;

export class LogView extends Widget {
  constructor(options: LogView.IOptions) {
    super();
    this._model = options.model;
    this._lines = new LineRenderer({ sanitizer: options.sanitizer, trans: options.trans });
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
    this._list.addEventListener('click', event => this._lines.handleClick(event, this._list));
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
      this._updateRendererFilter();
      this._jumpToLatest();
    }
  }

  /** Show only request lines of these status classes; none shows every line. */
  setStatusFilter(classes: ReadonlySet<StatusClass>): void {
    const same =
      classes.size === this._statuses.size && [...classes].every(c => this._statuses.has(c));
    if (!same) {
      this._statuses = new Set(classes);
      this._updateRendererFilter();
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

  private _updateRendererFilter(): void {
    this._lines.setFilter(this._query, this._query !== '' || this._statuses.size > 0);
  }

  private _onModelChanged(_: ILogModel, change: 'append' | 'reset'): void {
    if (change === 'reset') {
      this._stale = true;
      this._following = true;
    }
    this._appended = performance.now();
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
      if (this._unrendered() > FRAME_ENTRIES) {
        const now = performance.now();
        const flowing = now - this._appended < FLOOD_OVER_MS;
        if (flowing && now - this._floodDrawn < FLOOD_DRAW_MS) {
          this._schedule();
          return;
        }
        this._floodDrawn = now;
        this._renderTail(FRAME_ENTRIES);
      } else {
        this._extendDown(Infinity);
        this._growUp();
      }
      this._lines.refreshSummaries();
      if (this._followTail) {
        this._scrollToBottom();
      } // else the new lines wait below the view, "Jump to latest" shows them
    }
    this._updateButtons();
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

  /** Entries after the window: what the next frame would draw. */
  private _unrendered(): number {
    const entries = this._model.entries;
    if (entries.length === 0 || this._endKey === null) {
      return entries.length;
    }
    return entries[entries.length - 1].key - this._endKey;
  }

  /** After a flood drew only the tail: bring the window back to MAX_RENDERED, a frame's worth
   * at a time. */
  private _growUp(): void {
    if (this._keys.length < MAX_RENDERED && this._startKey !== null) {
      const before = this._startKey;
      this._extendUp(Math.min(FRAME_ENTRIES, MAX_RENDERED - this._keys.length));
      if (this._startKey !== before) {
        this._schedule();
      }
    }
  }

  /** Render the last `count` matching entries. */
  private _renderTail(count = MAX_RENDERED): void {
    const entries = this._model.entries;
    let from = entries.length;
    for (let matched = 0; from > 0 && matched < count; from--) {
      if (this._matches(entries[from - 1])) {
        matched++;
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
    this._lines.forgetDrawn();
    this._keys = [];
    for (let i = from; i < to; i++) {
      if (this._matches(entries[i])) {
        nodes.push(this._lines.render(entries[i]));
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
        fragment.append(this._lines.render(entries[i]));
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
        nodes.push(this._lines.render(entries[i]));
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
    // One removal of the whole run: a node at a time made the page lay out again each time.
    const range = document.createRange();
    if (side === 'top') {
      range.setStartBefore(list.firstElementChild!);
      range.setEndAfter(list.children[excess - 1]);
      this._keepViewport(() => range.deleteContents());
      this._keys.splice(0, excess);
      this._startKey = this._keys[0];
    } else {
      range.setStartBefore(list.children[list.children.length - excess]);
      range.setEndAfter(list.lastElementChild!);
      range.deleteContents();
      this._keys.length = MAX_RENDERED;
      this._endKey = this._keys[this._keys.length - 1];
    }
  }

  /** Change the DOM above the viewport without moving what the user reads. While following
   * the tail there is nothing to keep (the next step scrolls to the bottom): no size is read,
   * which would make the page lay out the whole window at once. */
  private _keepViewport(change: () => void): void {
    if (this._following) {
      change();
      return;
    }
    const list = this._list;
    const before = list.scrollHeight;
    change();
    list.scrollTop += list.scrollHeight - before;
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
    const node = target?.closest?.(`.${JUMP_CLASS}`);
    if (!(node instanceof HTMLElement) || !this._list.contains(node)) {
      return null;
    }
    const seq = Number(node.dataset.fujitaTraceback);
    return Number.isInteger(seq) ? seq : null;
  }

  private readonly _model: ILogModel;
  private readonly _lines: LineRenderer;
  private readonly _onJump: (seq: number) => void;
  private readonly _trans: Trans;
  private readonly _list = document.createElement('div');
  private readonly _earlier: HTMLButtonElement;
  private readonly _jump: HTMLButtonElement;
  /** Keys of the rendered entries, in DOM order. */
  private _keys: number[] = [];
  /** The first and last model entries the window covers (rendered or filtered out). */
  private _startKey: number | null = null;
  private _endKey: number | null = null;
  private _query = '';
  private _statuses: ReadonlySet<StatusClass> = new Set();
  private _following = true;
  private _followTail = true;
  private _stale = true;
  private _pendingReveal: number | null = null;
  private _frame = 0;
  /** When a flood's tail was last drawn, and when lines last came (performance.now()). */
  private _floodDrawn = 0;
  private _appended = 0;
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
