// The recent runs of the process (`GET processes/{name}/runs`): fetched again when a run starts
// or ends (the status's `started` or `ended` changes), and only while someone looks at them.
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { FujitaAPI } from './api';
import { IRun, IRunsModel, IStatus } from './tokens';

export class RunsModel implements IRunsModel, IDisposable {
  constructor(private readonly _api: FujitaAPI) {}

  get runs(): readonly IRun[] {
    return this._runs;
  }

  get error(): string | null {
    return this._error;
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Take the process's status: another process, or a run started or ended, means a new list. */
  follow(status: IStatus | null): void {
    const name = status?.name ?? null;
    if (name !== this._name) {
      this._name = name;
      this._runs = [];
      this._error = null;
      this._changed.emit();
    }
    const key = status === null ? '' : `${status.started} ${status.ended}`;
    if (key !== this._key) {
      this._key = key;
      this.refresh();
    }
  }

  setVisible(visible: boolean): void {
    this._visible = visible;
    if (visible && this._stale) {
      this.refresh();
    }
  }

  /** Fetch the list now, or once someone looks. */
  refresh(): void {
    this._stale = true;
    if (this._visible && this._name !== null && !this._disposed) {
      this._stale = false;
      void this._fetch(this._name);
    }
  }

  dispose(): void {
    if (!this._disposed) {
      this._disposed = true;
      Signal.clearData(this);
    }
  }

  private async _fetch(name: string): Promise<void> {
    const ticket = ++this._ticket; // only the last request's answer counts
    let runs: IRun[] | null = null;
    let error: string | null = null;
    try {
      runs = await this._api.listRuns(name);
    } catch (reason) {
      error = reason instanceof Error ? reason.message : String(reason);
    }
    if (ticket !== this._ticket || this._disposed || name !== this._name) {
      return;
    }
    this._runs = runs ?? this._runs;
    this._error = error;
    this._changed.emit();
  }

  private readonly _changed = new Signal<this, void>(this);
  private _runs: readonly IRun[] = [];
  private _error: string | null = null;
  private _name: string | null = null;
  private _key = '';
  private _visible = false;
  private _stale = true;
  private _ticket = 0;
  private _disposed = false;
}
