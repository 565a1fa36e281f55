// The tab strip at the top of the sidebar when the server supervises several processes (django,
// a worker, a CSS watcher): one tab per process, a dot in its state's colour and its name; the
// selected one is the process the rest of the sidebar shows. Start all and Stop all beside it.
// With `django` alone the strip is hidden and the sidebar looks as it always did.
import { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';

import { button, element } from './dom';
import { englishTrans, Trans } from './i18n';
import { CommandIDs, IFujitaModel, IStatus } from './tokens';

export class ProcessTabs extends Widget {
  constructor(options: ProcessTabs.IOptions) {
    super();
    this._model = options.model;
    const trans = options.trans ?? englishTrans();
    this.addClass('jp-fujita-tabs');
    this._strip.setAttribute('role', 'tablist');
    this._strip.setAttribute('aria-label', trans.__('Processes'));
    const { commands } = options;
    this._startAll = button('jp-fujita-all', trans.__('Start all'), () => {
      void commands.execute(CommandIDs.startAll);
    });
    this._startAll.dataset.fujitaAction = 'start-all';
    this._startAll.title = trans.__('Start every process, those they depend on first');
    this._stopAll = button('jp-fujita-all', trans.__('Stop all'), () => {
      void commands.execute(CommandIDs.stopAll);
    });
    this._stopAll.dataset.fujitaAction = 'stop-all';
    this._stopAll.title = trans.__('Stop every process');
    const all = element('div', 'jp-fujita-all-actions');
    all.append(this._startAll, this._stopAll);
    this.node.append(this._strip, all);
    this._model.processesChanged.connect(this._render, this);
    this._model.statusChanged.connect(this._render, this);
    this._model.connectionChanged.connect(this._render, this);
    this._model.busyChanged.connect(this._render, this);
    this._commands = commands;
    this._render();
  }

  private _render(): void {
    const model = this._model;
    const processes = model.connection === 'connected' ? model.processes : [];
    this.node.hidden = processes.length < 2;
    const names = processes.map(p => p.name).join('\n');
    if (names !== this._names) {
      // new tabs only when processes come or go: a tab under the pointer stays the same node
      this._names = names;
      this._strip.replaceChildren(...processes.map(p => this._createTab(p.name)));
    }
    processes.forEach((status, index) => {
      this._renderTab(this._strip.children[index] as HTMLElement, status);
    });
    this._startAll.disabled = !this._commands.isEnabled(CommandIDs.startAll);
    this._stopAll.disabled = !this._commands.isEnabled(CommandIDs.stopAll);
  }

  private _createTab(name: string): HTMLElement {
    const tab = button('jp-fujita-tab', '', () => this._model.select(name));
    tab.setAttribute('role', 'tab');
    tab.dataset.fujitaProcess = name;
    tab.append(element('span', 'jp-fujita-tab-dot'), element('span', 'jp-fujita-tab-name', name));
    return tab;
  }

  private _renderTab(tab: HTMLElement, status: IStatus): void {
    const selected = status.name === this._model.processName;
    tab.dataset.fujitaTabState = status.state;
    tab.title = status.message;
    tab.classList.toggle('jp-mod-current', selected);
    tab.setAttribute('aria-selected', String(selected));
  }

  private readonly _model: IFujitaModel;
  private readonly _commands: CommandRegistry;
  private readonly _strip = element('div', 'jp-fujita-tab-strip');
  private readonly _startAll: HTMLButtonElement;
  private readonly _stopAll: HTMLButtonElement;
  private _names = '';
}

export namespace ProcessTabs {
  export interface IOptions {
    model: IFujitaModel;
    commands: CommandRegistry;
    trans?: Trans;
  }
}
