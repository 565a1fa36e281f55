// Django in JupyterLab's Running panel (beside kernels and terminals): each supervised process
// (runserver, a worker, a watcher) while it is not stopped, with its state; a click shows it in
// the Django panel, the item's stop button stops it, Stop All stops them all, and the context
// menu restarts the process the panel shows.
import { IRunningSessions } from '@jupyterlab/running';
import { terminalIcon } from '@jupyterlab/ui-components';
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
    this._stopAll = options.stopAll;
    const trans = options.trans ?? englishTrans();
    this.name = trans.__('Django');
    this.shutdownLabel = trans.__('Stop');
    this.shutdownAllLabel = trans.__('Stop All');
    this.shutdownAllConfirmationText = trans.__(
      "Stop Django's development server and the project's other processes?"
    );
    this._model.processesChanged.connect(this._onStatus, this);
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
    if (this._model.connection !== 'connected') {
      return [];
    }
    return this._model.processes
      .filter(status => status.state !== 'stopped')
      .map(status => this._item(status));
  }

  shutdownAll(): void {
    this._stopAll();
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
      icon: () => (status.kind === 'program' ? terminalIcon : djangoIcon),
      label: () => status.name,
      labelTitle: () => `${status.message}\n${status.manage_py ?? status.cwd}`,
      detail: () => `${status.state}${where}`,
      open: () => this._openSidebar(status.name),
      shutdown: () => this._stop(status.name)
    };
  }

  private _onStatus(): void {
    const statuses = this._model.connection === 'connected' ? this._model.processes : [];
    const state = statuses.map(s => `${s.name} ${s.state} ${s.url ?? ''}`).join('\n');
    if (state !== this._lastState) {
      this._lastState = state;
      this._runningChanged.emit();
    }
  }

  private readonly _model: IFujitaModel;
  private readonly _openSidebar: (name: string) => void;
  private readonly _stop: (name: string) => void;
  private readonly _stopAll: () => void;
  private readonly _runningChanged = new Signal<this, void>(this);
  private _lastState = '';
  private _isDisposed = false;
}

export namespace DjangoRunningManager {
  export interface IOptions {
    model: IFujitaModel;
    /** Show the sidebar, at this process. */
    openSidebar: (name: string) => void;
    /** Stop this process. */
    stop: (name: string) => void;
    /** Stop every process. */
    stopAll: () => void;
    trans?: Trans;
  }
}
