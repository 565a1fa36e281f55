// The recent runs under a fold in the sidebar, newest first: when each started, how long it ran,
// how it ended and, for a crash, its error in one line. A click shows the run's first line in the
// log. Rendered as text.
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { button, element } from './dom';
import { englishTrans, Trans } from './i18n';
import { IDjangoError, IRun, IRunsModel } from './tokens';

/** How many runs the list shows (the server keeps more: Download has their lines). */
export const RUNS_SHOWN = 10;

export class RunsView extends Widget {
  constructor(options: RunsView.IOptions) {
    super();
    this._model = options.model;
    this._onReveal = options.onReveal;
    this._trans = options.trans ?? englishTrans();
    this.addClass('jp-fujita-runs');
    this._toggle = button('jp-fujita-runs-toggle', '', () => this._setOpen(!this._open));
    this._list.setAttribute('aria-label', this._trans.__('Recent runs of Django'));
    this.node.append(this._toggle, this._list);
    this._model.changed.connect(this._render, this);
    this._render();
  }

  dispose(): void {
    this._model.changed.disconnect(this._render, this);
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._updateVisible();
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this._updateVisible();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._updateVisible();
  }

  protected onBeforeDetach(msg: Message): void {
    this._model.setVisible(false);
    super.onBeforeDetach(msg);
  }

  private _setOpen(open: boolean): void {
    this._open = open;
    this._updateVisible();
    this._render();
  }

  /** The list is fetched only while it can be seen. */
  private _updateVisible(): void {
    this._model.setVisible(this._open && this.isVisible);
  }

  private _render(): void {
    const trans = this._trans;
    const runs = this._model.runs;
    this._toggle.textContent = `${this._open ? '▾' : '▸'} ${trans.__('Runs')}`;
    this._toggle.setAttribute('aria-expanded', String(this._open));
    this._toggle.title = this._open
      ? trans.__('Hide the recent runs')
      : trans.__('Show the recent runs: when, how long, how each ended');
    this._list.hidden = !this._open;
    if (!this._open) {
      return;
    }
    const error = this._model.error;
    if (error !== null) {
      this._list.replaceChildren(element('div', 'jp-fujita-runs-note', error));
      return;
    }
    if (runs.length === 0) {
      this._list.replaceChildren(
        element('div', 'jp-fujita-runs-note', trans.__('No runs in the log yet.'))
      );
      return;
    }
    const shown = runs.slice(-RUNS_SHOWN).reverse();
    this._list.replaceChildren(...shown.map(run => this._renderRun(run)));
  }

  private _renderRun(run: IRun): HTMLElement {
    const trans = this._trans;
    const ending = runEnding(run);
    const node = element('button', 'jp-fujita-run');
    node.type = 'button';
    node.addEventListener('click', () => this._onReveal(run));
    node.dataset.fujitaRun = String(run.number);
    node.dataset.fujitaRunEnding = ending;
    const summary = element('div', 'jp-fujita-run-summary');
    summary.append(
      element('span', 'jp-fujita-run-number', `#${run.number}`),
      element('span', 'jp-fujita-run-when', formatWhen(run.started)),
      element('span', 'jp-fujita-run-length', formatLength(run, trans)),
      element('span', 'jp-fujita-run-ending', describeEnding(run, ending, trans))
    );
    node.append(summary);
    if (run.error) {
      node.append(element('div', 'jp-fujita-run-error', describeError(run.error)));
    }
    node.title = [
      trans.__('Show the first line of run %1 in the log', run.number),
      run.command.join(' '),
      run.error ? describeError(run.error) : ''
    ]
      .filter(Boolean)
      .join('\n');
    return node;
  }

  private readonly _model: IRunsModel;
  private readonly _onReveal: (run: IRun) => void;
  private readonly _trans: Trans;
  private readonly _toggle: HTMLButtonElement;
  private readonly _list = element('div', 'jp-fujita-runs-list');
  private _open = false;
}

export namespace RunsView {
  export interface IOptions {
    model: IRunsModel;
    /** Show the run's lines in the log. */
    onReveal: (run: IRun) => void;
    trans?: Trans;
  }
}

/** Still running; ended without an error (a stop asked for); or crashed (the error says why). */
export type RunEnding = 'running' | 'stopped' | 'crashed';

export function runEnding(run: IRun): RunEnding {
  if (run.ended === null) {
    return 'running';
  }
  return run.error === null ? 'stopped' : 'crashed';
}

function describeEnding(run: IRun, ending: RunEnding, trans: Trans): string {
  switch (ending) {
    case 'running':
      return trans.__('running');
    case 'stopped':
      return trans.__('stopped');
    case 'crashed':
      if (run.signal) {
        return trans.__('killed by %1', run.signal);
      }
      return run.returncode === null
        ? trans.__('crashed')
        : trans.__('exit code %1', run.returncode);
  }
}

/** "SyntaxError: '(' was never closed (mysite/settings.py:3)" */
export function describeError(error: IDjangoError): string {
  const what = error.exception ? `${error.exception}: ${error.message}` : error.message;
  if (!error.file) {
    return what;
  }
  return `${what} (${error.line ? `${error.file}:${error.line}` : error.file})`;
}

/** "10:02:13" today, "2 Dec 10:02" before. */
function formatWhen(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return iso;
  }
  const today = new Date().toDateString() === date.toDateString();
  return today
    ? date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })
    : date.toLocaleString(undefined, {
        day: 'numeric',
        month: 'short',
        hour: '2-digit',
        minute: '2-digit'
      });
}

/** "4 s", "2 min 5 s", "3 h 12 min"; empty while it runs. */
function formatLength(run: IRun, trans: Trans): string {
  if (run.ended === null) {
    return '';
  }
  const seconds = Math.max(
    0,
    Math.round((new Date(run.ended).getTime() - new Date(run.started).getTime()) / 1000)
  );
  if (Number.isNaN(seconds)) {
    return '';
  }
  if (seconds < 60) {
    return trans.__('%1 s', seconds);
  }
  if (seconds < 3600) {
    return trans.__('%1 min %2 s', Math.floor(seconds / 60), seconds % 60);
  }
  return trans.__('%1 h %2 min', Math.floor(seconds / 3600), Math.floor(seconds / 60) % 60);
}
