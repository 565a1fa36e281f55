// Notifications: when Django (or another process) crashes or breaks (alive, waiting for a fix) or
// an error is detected, one line saying why, with "Show" opening the sidebar at the error. What was already so when the
// page opened is not announced; the settings (notifyOnCrash, notifyOnBroken) can silence either.
import { Notification } from '@jupyterlab/apputils';
import { IDisposable } from '@lumino/disposable';

import { englishTrans, Trans } from './i18n';
import { DEFAULT_SETTINGS, IFujitaSettings } from './settings';
import { IFujitaModel, IDjangoError, IStatus } from './tokens';

export class CrashNotifier implements IDisposable {
  constructor(
    private readonly _model: IFujitaModel,
    /** Show this process in the sidebar, at its log line `seq` when given. */
    private readonly _show: (name: string, seq?: number) => void,
    private readonly _settings: () => Readonly<IFujitaSettings> = () => DEFAULT_SETTINGS,
    private readonly _trans: Trans = englishTrans()
  ) {
    _model.processesChanged.connect(this._onProcesses, this);
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (!this._isDisposed) {
      this._isDisposed = true;
      this._model.processesChanged.disconnect(this._onProcesses, this);
    }
  }

  private _onProcesses(_: IFujitaModel, processes: readonly IStatus[]): void {
    const previous = this._previous;
    this._previous = new Map(processes.map(status => [status.name, status]));
    if (previous === undefined) {
      return; // the first news is how things were, not a change
    }
    for (const status of processes) {
      const before = previous.get(status.name);
      if (before !== undefined && before !== status) {
        this._onStatus(status, before);
      }
    }
  }

  private _onStatus(status: IStatus, previous: IStatus): void {
    const newError = status.error !== null && !sameError(status.error, previous.error);
    // The status socket sends the latest status, so a restart that crashes again may arrive as
    // crashed → crashed: a new error or a new end is a new crash.
    const crashed =
      status.state === 'crashed' &&
      (previous.state !== 'crashed' || newError || status.ended !== previous.ended);
    const broken = status.state === 'broken' && previous.state !== 'broken';
    const { notifyOnCrash, notifyOnBroken } = this._settings();
    const id = this._ids.get(status.name);
    if ((crashed && notifyOnCrash) || (!crashed && (broken || newError) && notifyOnBroken)) {
      this._notify(status);
    } else if (status.state === 'running' && id) {
      Notification.dismiss(id);
      this._ids.delete(status.name);
    }
  }

  private _notify(status: IStatus): void {
    const id = this._ids.get(status.name);
    if (id) {
      Notification.dismiss(id);
    }
    const seq = status.error?.seq ?? undefined;
    this._ids.set(
      status.name,
      Notification.error(describe(status, this._trans), {
        autoClose: false,
        actions: [
          {
            label: this._trans.__('Show'),
            caption: this._trans.__('Show the Django panel'),
            callback: () => this._show(status.name, seq)
          }
        ]
      })
    );
  }

  /** The statuses last heard, by name; undefined before the first. */
  private _previous: Map<string, IStatus> | undefined = undefined;
  /** The notification shown for each process. */
  private readonly _ids = new Map<string, string>();
  private _isDisposed = false;
}

/** One line: what happened and why. */
export function describe(status: IStatus, trans: Trans = englishTrans()): string {
  if (status.state === 'broken' && status.message) {
    // "Django: Waiting for a fix: SyntaxError in mysite/urls.py line 12"
    return trans.__('Django: %1', status.message);
  }
  const program = status.kind === 'program';
  const what =
    status.state === 'crashed'
      ? program
        ? trans.__('%1 crashed', status.name)
        : trans.__('Django crashed')
      : program
        ? trans.__('%1 reports an error', status.name)
        : trans.__('Django reports an error');
  const { error } = status;
  if (error === null) {
    const code =
      status.returncode === null ? '' : ' ' + trans.__('(exit code %1)', status.returncode);
    return `${what}${code}: ${status.message}`;
  }
  const where = error.file ? ` (${error.file}${error.line ? `:${error.line}` : ''})` : '';
  const exception = error.exception ? `${error.exception}: ` : '';
  return `${what}: ${exception}${error.message}${where}`;
}

function sameError(a: IDjangoError, b: IDjangoError | null): boolean {
  return (
    b !== null &&
    a.kind === b.kind &&
    a.message === b.message &&
    a.file === b.file &&
    a.line === b.line &&
    a.seq === b.seq
  );
}
