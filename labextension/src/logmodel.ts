// The log of one process as the page holds it: bounded, in seq order, each line once. It streams
// over the log WebSocket only while someone looks, and resumes with `since=<last seq>`, so a
// reconnect gives neither a duplicate nor a silently missing line (the server says `gap`).
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { FujitaAPI, processPath } from './api';
import { ReconnectingSocket } from './socket';
import { TracebackReader } from './traceback';
import { ILine, ILogModel, LogEntry, LogMessage } from './tokens';

/** The most entries kept by default (the maxLines setting); older ones are dropped in chunks
 * (a tenth more at most), to keep appends cheap. */
export const MAX_ENTRIES = 20000;

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
    this._tracebacks = new TracebackReader();
    this._lastSeq = null;
    this._logId = null;
    if (notice) {
      this._entries.push({ kind: 'notice', key: this._nextKey++, text: notice });
    }
    this._changed.emit('reset');
    this._socket.restart();
  }

  dispose(): void {
    if (!this.isDisposed) {
      this._socket.dispose();
      Signal.clearData(this);
    }
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
        this._append(message.lines);
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
        this._tracebacks = new TracebackReader();
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
  private _tracebacks = new TracebackReader();
  private _maxEntries = MAX_ENTRIES;
  private _lastSeq: number | null = null;
  private _logId: string | null = null;
  private _nextKey = 0;
  private _name: string | null = null;
  private _enabled = false;
  private _visible = false;
}
