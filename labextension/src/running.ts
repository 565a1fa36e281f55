// Django in JupyterLab's Running panel (beside kernels and terminals): the supervised process
// while it is not stopped, with its state; a click opens the Django panel, the panel's stop
// button stops it, and its context menu restarts it.
import { IRunningSessions } from '@jupyterlab/running';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { englishTrans, Trans } from './i18n';
import { djangoIcon } from './icon';
import { IFujitaModel, IStatus } from './tokens';

/** The class of our items in the Running panel (the context menu's selector). */
export const RUNNING_ITEM_CLASS = 'jp-fujita-running-item';

export class DjangoRunningManager implements IRunningSessions.IManager, IDisposable {
  constructor(options: DjangoRunningManager.IOptions) {
    this._model = options.model;
    this._openSidebar = options.openSidebar;
    this._stop = options.stop;
    const trans = options.trans ?? englishTrans();
    this.name = trans.__('Django');
    this.shutdownLabel = trans.__('Stop Django');
    this.shutdownAllLabel = trans.__('Stop All');
    this.shutdownAllConfirmationText = trans.__("Stop Django's development server?");
    this._model.statusChanged.connect(this._onStatus, this);
    this._model.connectionChanged.connect(this._onStatus, this);
  }

  readonly name: string;
  readonly shutdownLabel: string;
  readonly shutdownAllLabel: string;
  readonly shutdownAllConfirmationText: string;
  readonly supportsMultipleViews = false;

  get runningChanged(): ISignal<this, void> {
    return this._runningChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  running(): IRunningSessions.IRunningItem[] {
    const status = this._model.status;
    if (this._model.connection !== 'connected' || status === null || status.state === 'stopped') {
      return [];
    }
    return [this._item(status)];
  }

  shutdownAll(): void {
    this._stop();
  }

  refreshRunning(): void {
    this._runningChanged.emit();
  }

  dispose(): void {
    if (!this._isDisposed) {
      this._isDisposed = true;
      Signal.clearData(this);
    }
  }

  private _item(status: IStatus): IRunningSessions.IRunningItem {
    const where = status.url
      ? ` · ${status.url.replace(/^https?:\/\//, '').replace(/\/$/, '')}`
      : '';
    return {
      className: `${RUNNING_ITEM_CLASS} jp-fujita-running-${status.state}`,
      context: status.name,
      icon: () => djangoIcon,
      label: () => status.name,
      labelTitle: () => `${status.message}\n${status.manage_py ?? status.cwd}`,
      detail: () => `${status.state}${where}`,
      open: () => this._openSidebar(),
      shutdown: () => this._stop()
    };
  }

  private _onStatus(): void {
    const status = this._model.connection === 'connected' ? this._model.status : null;
    const state = status ? `${status.state} ${status.url ?? ''}` : '';
    if (state !== this._lastState) {
      this._lastState = state;
      this._runningChanged.emit();
    }
  }

  private readonly _model: IFujitaModel;
  private readonly _openSidebar: () => void;
  private readonly _stop: () => void;
  private readonly _runningChanged = new Signal<this, void>(this);
  private _lastState = '';
  private _isDisposed = false;
}

export namespace DjangoRunningManager {
  export interface IOptions {
    model: IFujitaModel;
    openSidebar: () => void;
    stop: () => void;
    trans?: Trans;
  }
}
