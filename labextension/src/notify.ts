// Notifications: when Django crashes or breaks (alive, waiting for a fix) or an error is detected,
// one line saying why, with "Show" opening the sidebar at the error. What was already so when the
// page opened is not announced; the settings (notifyOnCrash, notifyOnBroken) can silence either.
import { Notification } from '@jupyterlab/apputils';
import { IDisposable } from '@lumino/disposable';

import { englishTrans, Trans } from './i18n';
import { DEFAULT_SETTINGS, IFujitaSettings } from './settings';
import { IFujitaModel, IDjangoError, IStatus } from './tokens';

export class CrashNotifier implements IDisposable {
  constructor(
    private readonly _model: IFujitaModel,
    private readonly _show: (seq?: number) => void,
    private readonly _settings: () => Readonly<IFujitaSettings> = () => DEFAULT_SETTINGS,
    private readonly _trans: Trans = englishTrans()
  ) {
    _model.statusChanged.connect(this._onStatus, this);
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (!this._isDisposed) {
      this._isDisposed = true;
      this._model.statusChanged.disconnect(this._onStatus, this);
    }
  }

  private _onStatus(_: IFujitaModel, status: IStatus | null): void {
    const previous = this._previous;
    this._previous = status;
    if (previous === undefined || status === null || (previous && previous.name !== status.name)) {
      return; // the first news is how things were, not a change; nor is another process shown
    }
    const crashed = status.state === 'crashed' && previous?.state !== 'crashed';
    const broken = status.state === 'broken' && previous?.state !== 'broken';
    const newError = status.error !== null && !sameError(status.error, previous?.error ?? null);
    const { notifyOnCrash, notifyOnBroken } = this._settings();
    if ((crashed && notifyOnCrash) || (!crashed && (broken || newError) && notifyOnBroken)) {
      this._notify(status);
    } else if (status.state === 'running' && this._id) {
      Notification.dismiss(this._id);
      this._id = '';
    }
  }

  private _notify(status: IStatus): void {
    if (this._id) {
      Notification.dismiss(this._id);
    }
    const seq = status.error?.seq ?? undefined;
    this._id = Notification.error(describe(status, this._trans), {
      autoClose: false,
      actions: [
        {
          label: this._trans.__('Show'),
          caption: this._trans.__('Show the Django panel'),
          callback: () => this._show(seq)
        }
      ]
    });
  }

  private _previous: IStatus | null | undefined = undefined;
  private _id = '';
  private _isDisposed = false;
}

/** One line: what happened and why. */
export function describe(status: IStatus, trans: Trans = englishTrans()): string {
  if (status.state === 'broken' && status.message) {
    // "Django: Waiting for a fix: SyntaxError in mysite/urls.py line 12"
    return trans.__('Django: %1', status.message);
  }
  const what =
    status.state === 'crashed' ? trans.__('Django crashed') : trans.__('Django reports an error');
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
