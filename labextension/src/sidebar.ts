// The sidebar panel: the process tabs (when there are several), the status header, which project, Django's hints, the debugger box (while
// paused), the recent runs, the log toolbar (filter box, status chips, Clear) and the log view,
// which follows the user's settings. The log is streamed only while this panel is visible.
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { IRenderMime } from '@jupyterlab/rendermime';
import { CommandRegistry } from '@lumino/commands';
import { Message } from '@lumino/messaging';
import { Panel, Widget } from '@lumino/widgets';

import { processPath } from './api';
import { StatusChips, StatusClass } from './chips';
import { DebuggerBox } from './debugger';
import { button, element } from './dom';
import { StatusHeader } from './header';
import { HintsView } from './hints';
import { englishTrans, Trans } from './i18n';
import { djangoIcon } from './icon';
import { LogView } from './logview';
import { ProcessTabs } from './processtabs';
import { ProjectLine } from './project';
import { RunsView } from './runsview';
import { IFujitaSettings, SettingsModel } from './settings';
import { CommandIDs, IFujitaModel, SIDEBAR_ID } from './tokens';

/** Typing pauses this long before the view is filtered. */
const FILTER_DELAY_MS = 150;

export class FujitaSidebar extends Panel {
  constructor(options: FujitaSidebar.IOptions) {
    super();
    const { model, commands } = options;
    const trans = options.trans ?? englishTrans();
    this._model = model;
    this.id = SIDEBAR_ID;
    this.addClass('jp-fujita-sidebar');
    this.title.icon = djangoIcon;
    this.title.caption = trans.__('Django');

    this._log = new LogView({
      model: model.log,
      sanitizer: options.sanitizer,
      onOpenFile: (path, line) => void commands.execute(CommandIDs.openFile, { path, line }),
      onJump: seq => this.reveal(seq),
      trans
    });
    this._toolbar = new LogToolbar({
      model,
      onFilter: text => this._log.setFilter(text),
      onStatusFilter: classes => this._log.setStatusFilter(classes),
      onClear: () => void commands.execute(CommandIDs.clearLog),
      onToggleWrap: () => {
        const wrap = !this._settings.values.wrapLines;
        this._settings.set('wrapLines', wrap).catch(reason => {
          console.warn('jupyter-fujita: the wrap setting could not be saved', reason);
        });
      },
      trans
    });
    this.addWidget(new ProcessTabs({ model, commands, trans }));
    this.addWidget(new StatusHeader({ model, commands, onReveal: seq => this.reveal(seq), trans }));
    this.addWidget(new ProjectLine(model, trans));
    this.addWidget(new HintsView({ model, commands, trans }));
    this.addWidget(new DebuggerBox({ model, commands, trans }));
    this.addWidget(
      new RunsView({
        model: model.runs,
        onReveal: run => void this.revealRun(run.first_seq),
        trans
      })
    );
    this.addWidget(this._toolbar);
    this.addWidget(this._log);

    this._settings = options.settings;
    this._settings.changed.connect(this._applySettings, this);
    this._applySettings(this._settings, this._settings.values);
  }

  /** Show the log at `seq` (unfiltered), now or once the line has arrived. */
  reveal(seq: number): void {
    this._toolbar.clearFilter();
    this._log.setFilter('');
    this._log.setStatusFilter(new Set());
    this._log.reveal(seq);
  }

  /** Show a run's first line (`seq`), reading it from the server when the page lacks it. */
  async revealRun(seq: number): Promise<void> {
    try {
      await this._model.log.loadFrom(seq);
    } catch (error) {
      console.warn('jupyter-fujita: the earlier lines could not be read', error);
    }
    this.reveal(seq);
  }

  dispose(): void {
    this._settings.changed.disconnect(this._applySettings, this);
    super.dispose();
  }

  private _applySettings(_: SettingsModel, values: Readonly<IFujitaSettings>): void {
    this._model.log.setMaxEntries(values.maxLines);
    this._log.configure(values);
    this._toolbar.showWrap(values.wrapLines);
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._model.log.setVisible(this.isVisible);
  }

  protected onBeforeDetach(msg: Message): void {
    this._model.log.setVisible(false);
    super.onBeforeDetach(msg);
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._model.log.setVisible(true);
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this._model.log.setVisible(false);
  }

  private readonly _model: IFujitaModel;
  private readonly _settings: SettingsModel;
  private readonly _log: LogView;
  private readonly _toolbar: LogToolbar;
}

export namespace FujitaSidebar {
  export interface IOptions {
    model: IFujitaModel;
    commands: CommandRegistry;
    /** Cleans the HTML made from lines with ANSI colours. */
    sanitizer: IRenderMime.ISanitizer;
    /** The user's settings (defaults until the registry answers). */
    settings: SettingsModel;
    trans?: Trans;
  }
}

/** The filter box, the status chips, Wrap, Download and Clear above the log. */
class LogToolbar extends Widget {
  constructor(options: LogToolbar.IOptions) {
    super();
    this._model = options.model;
    const trans = options.trans ?? englishTrans();
    this.addClass('jp-fujita-toolbar');

    this._filter.type = 'search';
    this._filter.placeholder = trans.__('Filter lines');
    this._filter.setAttribute('aria-label', trans.__('Filter the log lines'));
    this._filter.addEventListener('input', () => {
      window.clearTimeout(this._timer);
      this._timer = window.setTimeout(() => options.onFilter(this._filter.value), FILTER_DELAY_MS);
    });
    this._chips = new StatusChips(options.onStatusFilter, trans);
    this._clear = button('jp-fujita-clear', trans.__('Clear'), options.onClear);
    this._clear.dataset.fujitaAction = 'clear';
    this._clear.title = trans.__('Clear the log (on the server, for every page)');
    this._wrap = button('jp-fujita-wrap', trans.__('Wrap'), options.onToggleWrap);
    this._wrap.dataset.fujitaAction = 'wrap';
    this._wrap.title = trans.__('Wrap long lines (off: one line each, scrolling sideways)');
    this._wrap.setAttribute('aria-pressed', 'true');
    // A plain link: the browser downloads the whole log (from disk, every run) at its own pace.
    this._download.dataset.fujitaAction = 'download';
    this._download.textContent = trans.__('Download');
    this._download.title = trans.__('Download the whole log as text (every run kept on disk)');
    this._download.setAttribute('download', '');
    this.node.append(this._filter, this._wrap, this._download, this._clear, this._chips.node);

    this._model.connectionChanged.connect(this._render, this);
    this._model.statusChanged.connect(this._render, this);
    this._model.busyChanged.connect(this._render, this);
    this._render();
  }

  /** Whether lines wrap now (the setting). */
  showWrap(wrap: boolean): void {
    this._wrap.setAttribute('aria-pressed', String(wrap));
    this._wrap.classList.toggle('jp-mod-active', wrap);
  }

  /** Empty the filter box and turn the chips off (the caller resets the view). */
  clearFilter(): void {
    window.clearTimeout(this._timer);
    this._filter.value = '';
    this._chips.clear();
  }

  dispose(): void {
    window.clearTimeout(this._timer);
    super.dispose();
  }

  private _render(): void {
    const model = this._model;
    const busy = model.isBusy('clear');
    this._clear.disabled = busy || model.connection !== 'connected' || model.processName === null;
    this._clear.classList.toggle('jp-mod-busy', busy);
    this._clear.setAttribute('aria-busy', String(busy));
    const name = model.processName;
    this._download.hidden = name === null;
    if (name !== null) {
      this._download.href = URLExt.join(
        PageConfig.getBaseUrl(),
        'fujita/api',
        processPath(name, 'log.txt')
      );
    }
  }

  private readonly _model: IFujitaModel;
  private readonly _filter = element('input', 'jp-mod-styled jp-fujita-filter');
  private readonly _chips: StatusChips;
  private readonly _clear: HTMLButtonElement;
  private readonly _wrap: HTMLButtonElement;
  private readonly _download = element('a', 'jp-fujita-download');
  private _timer = 0;
}

namespace LogToolbar {
  export interface IOptions {
    model: IFujitaModel;
    onFilter: (text: string) => void;
    onStatusFilter: (classes: ReadonlySet<StatusClass>) => void;
    onClear: () => void;
    onToggleWrap: () => void;
    trans?: Trans;
  }
}
