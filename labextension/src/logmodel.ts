// The log of one process as the page holds it: bounded, in seq order, each line once. It streams
// over the log WebSocket only while someone looks, and resumes with `since=<last seq>`, so a
// reconnect gives neither a duplicate nor a silently missing line (the server says `gap`).
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { FujitaAPI, processPath } from './api';
import { ReconnectingSocket } from './socket';
import { TracebackReader } from './traceback';
import { ILine, ILineBatch, ILogModel, LogEntry, LogMessage } from './tokens';

/** The most entries kept by default (the maxLines setting); older ones are dropped in chunks
 * (a tenth more at most), to keep appends cheap. */
export const MAX_ENTRIES = 20000;
/** The most lines one `GET log` answers. */
const PAGE_LINES = 10000;

export class LogModel implements ILogModel, IDisposable {
  constructor(private readonly _api: FujitaAPI) {
    this._socket = new ReconnectingSocket({
      open: () => this._open(),
      onMessage: data => this._handle(data as LogMessage)
    });
  }

  get entries(): readonly LogEntry[] {
    return this._entries;
  }

  get lastSeq(): number | null {
    return this._lastSeq;
  }

  get changed(): ISignal<this, 'append' | 'reset'> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._socket.isDisposed;
  }

  /** Follow another process (or none): forget what was held. */
  setProcess(name: string | null): void {
    if (name !== this._name) {
      this._name = name;
      this._socket.stop();
      this.reset();
      this._update();
    }
  }

  /** Whether the server is reachable; the owner says so once it has checked the seqs. */
  setEnabled(enabled: boolean): void {
    this._enabled = enabled;
    this._update();
  }

  setVisible(visible: boolean): void {
    this._visible = visible;
    this._update();
  }

  /** Keep at most `count` entries from now on (the oldest go at once). */
  setMaxEntries(count: number): void {
    if (count !== this._maxEntries) {
      this._maxEntries = count;
      if (this._entries.length > count) {
        this._entries.splice(0, this._entries.length - count);
        this._changed.emit('reset');
      }
    }
  }

  /** Forget every line and the last seq (the next connection replays the cache); say why. */
  reset(notice?: string): void {
    this._entries = [];
    this._tracebacks = this._newReader();
    this._lastSeq = null;
    this._logId = null;
    if (notice) {
      this._entries.push({ kind: 'notice', key: this._nextKey++, text: notice });
    }
    this._changed.emit('reset');
    this._socket.restart();
  }

  async loadFrom(seq: number): Promise<void> {
    const name = this._name;
    const at = this._entries.findIndex(entry => entry.kind === 'line' && entry.line.seq >= seq);
    const anchor = this._entries[at];
    if (name === null || anchor?.kind !== 'line' || anchor.line.seq === seq) {
      return; // newer than every line held (the stream brings it), or held
    }
    const before = this._entries.slice(0, at);
    if (
      before[before.length - 1]?.kind !== 'unloaded' &&
      before.some(entry => entry.kind === 'line')
    ) {
      return; // between two lines held: gone from the server (a gap says so)
    }
    // Half the page at most when it is full: the newest lines stay, the oldest held ones go.
    const end = anchor.line.seq;
    const held = this._entries.length - at;
    const room = Math.max(this._maxEntries - held - 1, Math.floor(this._maxEntries / 2));
    const lines = await this._readLines(name, seq, end, Math.min(end - seq, room));
    const index = this._entries.indexOf(anchor);
    if (lines === null || lines.length === 0 || name !== this._name || index < 0) {
      return; // another process or log meanwhile, or the anchor left: not our place any more
    }
    // what was before the anchor (an earlier run read this way) goes, then what does not fit
    const excess = Math.max(this._entries.length - index + lines.length + 1 - this._maxEntries, 0);
    this._entries.splice(0, index + excess);
    const next = this._entries.find(entry => entry.kind === 'line');
    const reader = this._newReader();
    const earlier: LogEntry[] = lines.map(line => ({
      kind: 'line',
      key: 0,
      line,
      traceback: line.stream === 'stderr' ? reader.read(line.text, !!line.frame) : null
    }));
    const last = lines[lines.length - 1].seq;
    if (next?.kind === 'line' && last < next.line.seq - 1) {
      earlier.push({ kind: 'unloaded', key: 0, from: last + 1, to: next.line.seq - 1 });
    }
    // keys stay consecutive: the earlier entries count down from the first one's
    const firstKey = this._entries[0]?.key ?? this._nextKey;
    for (const [i, entry] of earlier.entries()) {
      entry.key = firstKey - earlier.length + i;
    }
    this._entries.unshift(...earlier);
    this._changed.emit('reset');
  }

  dispose(): void {
    if (!this.isDisposed) {
      this._socket.dispose();
      Signal.clearData(this);
    }
  }

  private _newReader(): TracebackReader {
    return new TracebackReader(() => this._foldIds++);
  }

  /** Up to `count` lines from `from` on, before `end`, read from the server; null when the log
   * changed meanwhile. */
  private async _readLines(
    name: string,
    from: number,
    end: number,
    count: number
  ): Promise<ILine[] | null> {
    const lines: ILine[] = [];
    let since = from - 1;
    while (lines.length < count) {
      const page = await this._api.readLog(name, since, Math.min(PAGE_LINES, count - lines.length));
      if (page.log_id !== this._logId) {
        return null;
      }
      lines.push(...page.lines.filter(line => line.seq < end));
      if (page.lines.length === 0 || page.next_since >= end - 1) {
        break;
      }
      since = page.next_since;
    }
    return lines;
  }

  private _update(): void {
    if (this._name !== null && this._enabled && this._visible) {
      this._socket.start();
    } else {
      this._socket.stop();
    }
  }

  private _open(): WebSocket {
    const query: Record<string, string> = {};
    if (this._lastSeq !== null) {
      query.since = String(this._lastSeq);
    }
    if (this._logId !== null) {
      // a log of another server's life answers `cleared`, not a tail that only looks right
      query.log_id = this._logId;
    }
    return this._api.openSocket(processPath(this._name ?? '', 'log', 'ws'), query);
  }

  private _handle(message: LogMessage): void {
    switch (message.type) {
      case 'lines':
        this._logId = message.log_id;
        this._append(lineRecords(message.lines));
        break;
      case 'gap':
        this._entries.push({
          kind: 'gap',
          key: this._nextKey++,
          from: message.from_seq,
          to: message.to_seq
        });
        this._lastSeq = Math.max(this._lastSeq ?? message.to_seq, message.to_seq);
        this._trim();
        this._changed.emit('append');
        break;
      case 'cleared':
        // what follows is the whole log, maybe of a new server whose seqs start over
        this._entries = [];
        this._tracebacks = this._newReader();
        this._lastSeq = null;
        this._logId = null;
        this._changed.emit('reset');
        break;
    }
  }

  private _append(lines: ILine[]): void {
    let added = false;
    for (const line of lines) {
      // A line at or below the last seq was already received: a resumed stream overlapping.
      if (this._lastSeq === null || line.seq > this._lastSeq) {
        const traceback =
          line.stream === 'stderr' ? this._tracebacks.read(line.text, !!line.frame) : null;
        this._entries.push({ kind: 'line', key: this._nextKey++, line, traceback });
        this._lastSeq = line.seq;
        added = true;
      }
    }
    if (added) {
      this._trim();
      this._changed.emit('append');
    }
  }

  private _trim(): void {
    const max = this._maxEntries;
    if (this._entries.length > max + Math.ceil(max / 10)) {
      this._entries.splice(0, this._entries.length - max);
    }
  }

  private readonly _socket: ReconnectingSocket;
  private readonly _changed = new Signal<this, 'append' | 'reset'>(this);
  private _entries: LogEntry[] = [];
  private _tracebacks = this._newReader();
  private _maxEntries = MAX_ENTRIES;
  private _lastSeq: number | null = null;
  private _logId: string | null = null;
  private _nextKey = 0;
  private _foldIds = 0;
  private _name: string | null = null;
  private _enabled = false;
  private _visible = false;
}

/**
 * The lines of a `lines` message's records: a batch's lines each as a line of its own, and a
 * request line that came without its `request` given the one its text says.
 */
export function lineRecords(records: (ILine | ILineBatch)[]): ILine[] {
  const lines: ILine[] = [];
  for (const record of records) {
    if (!('texts' in record)) {
      const plain = !record.request && !record.frame && !record.partial;
      lines.push(plain && record.stream === 'stderr' ? withRequest(record) : record);
      continue;
    }
    const { seq, stream, time, texts } = record;
    for (let k = 0; k < texts.length; k++) {
      const line: ILine = { seq: seq + k, stream, time, text: texts[k] };
      lines.push(stream === 'stderr' ? withRequest(line) : line);
    }
  }
  return lines;
}

// runserver's request line (Werkzeug's too), whatever the LOGGING format around it: the
// server's REQUEST_LINE (wire.py), which sends such a line as text only unless a traceback
// waits for it.
const REQUEST_LINE = /"([A-Z]+) (\S*) HTTP\/[\d.]+" (\d{3}) (\d+|-)/;

function withRequest(line: ILine): ILine {
  const match = REQUEST_LINE.exec(line.text);
  if (match) {
    const [, method, path, status, size] = match;
    line.request = {
      method,
      path,
      status: Number(status),
      size: size === '-' ? null : Number(size)
    };
  }
  return line;
}
