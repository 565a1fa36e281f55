// The status bar item: the state at a glance, the worst of every process's (a crashed worker
// shows although Django runs; the tooltip names it); a click opens the sidebar.
import { Widget } from '@lumino/widgets';

import { element } from './dom';
import { englishTrans, Trans } from './i18n';
import { displayMessage, worstProcess } from './model';
import { DEFAULT_PROCESS, IFujitaModel } from './tokens';

export class FujitaStatusItem extends Widget {
  constructor(options: FujitaStatusItem.IOptions) {
    super();
    this._model = options.model;
    this._trans = options.trans ?? englishTrans();
    this.addClass('jp-fujita-statusbar');
    this.node.append(this._dot, this._text);
    this.node.addEventListener('click', options.onClick);
    this._model.processesChanged.connect(this._render, this);
    this._model.connectionChanged.connect(this._render, this);
    this._render();
  }

  private _render(): void {
    const model = this._model;
    const worst = model.connection === 'connected' ? worstProcess(model.processes) : null;
    const state = model.connection !== 'connected' ? model.connection : (worst?.state ?? 'none');
    const several = model.processes.length > 1;
    let message = worst?.message ?? displayMessage(model, this._trans);
    if (worst && several) {
      message = this._trans.__('%1 (the worst of %2 processes)', message, model.processes.length);
    }
    this.node.dataset.fujitaState = state;
    this.node.dataset.fujitaProcess = worst?.name ?? '';
    this.node.title = this._trans.__('%1 (click to show the Django panel)', message);
    this._text.textContent =
      worst && several && worst.name !== DEFAULT_PROCESS
        ? this._trans.__('Django: %1 (%2)', state, worst.name)
        : this._trans.__('Django: %1', state);
  }

  private readonly _model: IFujitaModel;
  private readonly _trans: Trans;
  private readonly _dot = element('span', 'jp-fujita-statusbar-dot');
  private readonly _text = element('span', 'jp-StatusBar-TextItem');
}

export namespace FujitaStatusItem {
  export interface IOptions {
    model: IFujitaModel;
    onClick: () => void;
    trans?: Trans;
  }
}
