// A JSON WebSocket that comes back: after a failure it reconnects with exponential back-off
// (and jitter, so many pages do not knock all at once) until it is stopped.
import { IDisposable } from '@lumino/disposable';

export interface IReconnectingSocketOptions {
  /** Open a new socket; called at every attempt, so the URL can carry the latest `since`. */
  open: () => WebSocket;
  /** Runs before each attempt; a rejection is a failed attempt, its message the reason. */
  prepare?: () => Promise<void>;
  onMessage: (data: unknown) => void;
  onOpen?: () => void;
  /** The connection was lost or could not be made (never called after `stop`). */
  onFailure?: (reason: string | null) => void;
  minDelay?: number;
  maxDelay?: number;
}

/** A socket that stayed open this long was healthy: the next failure starts the back-off over. */
const HEALTHY_MS = 5000;

export class ReconnectingSocket implements IDisposable {
  constructor(private readonly _options: IReconnectingSocketOptions) {}

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  get isOpen(): boolean {
    return this._socket?.readyState === WebSocket.OPEN;
  }

  /** Connect, and keep reconnecting until `stop`. Does nothing when already running. */
  start(): void {
    if (this._running || this._isDisposed) {
      return;
    }
    this._running = true;
    this._failures = 0;
    void this._connect();
  }

  /** Close the socket now; reconnect at once (keeping the back-off) if running. */
  restart(): void {
    if (this._running) {
      this.stop();
      this.start();
    }
  }

  stop(): void {
    this._running = false;
    this._generation++;
    window.clearTimeout(this._timer);
    const socket = this._socket;
    this._socket = null;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
      socket.close();
    }
  }

  dispose(): void {
    if (!this._isDisposed) {
      this.stop();
      this._isDisposed = true;
    }
  }

  private async _connect(): Promise<void> {
    const generation = ++this._generation;
    try {
      await this._options.prepare?.();
    } catch (error) {
      if (generation === this._generation) {
        this._fail(error instanceof Error ? error.message : String(error));
      }
      return;
    }
    if (generation !== this._generation) {
      return; // stopped meanwhile
    }
    let openedAt = 0;
    const socket = this._options.open();
    this._socket = socket;
    socket.onopen = () => {
      openedAt = Date.now();
      this._options.onOpen?.();
    };
    socket.onmessage = (event: MessageEvent) => {
      this._failures = 0;
      let data: unknown;
      try {
        data = JSON.parse(String(event.data));
      } catch {
        console.warn('jupyter-fujita: ignoring a message that is not JSON');
        return;
      }
      this._options.onMessage(data);
    };
    socket.onclose = () => {
      if (this._socket !== socket) {
        return;
      }
      this._socket = null;
      if (openedAt && Date.now() - openedAt > HEALTHY_MS) {
        this._failures = 0;
      }
      this._fail(null);
    };
  }

  private _fail(reason: string | null): void {
    if (!this._running) {
      return;
    }
    this._options.onFailure?.(reason);
    const { minDelay = 500, maxDelay = 30000 } = this._options;
    const delay = Math.min(maxDelay, minDelay * 2 ** this._failures) * (0.8 + 0.4 * Math.random());
    this._failures = Math.min(this._failures + 1, 30);
    this._timer = window.setTimeout(() => void this._connect(), delay);
  }

  private _running = false;
  private _isDisposed = false;
  private _socket: WebSocket | null = null;
  private _timer = 0;
  private _failures = 0;
  private _generation = 0;
}
