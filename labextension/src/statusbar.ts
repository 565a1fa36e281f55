// The status bar item: the state at a glance; a click opens the sidebar.
import { Widget } from '@lumino/widgets';

import { element } from './dom';
import { englishTrans, Trans } from './i18n';
import { displayMessage, displayState } from './model';
import { IFujitaModel } from './tokens';

export class FujitaStatusItem extends Widget {
  constructor(options: FujitaStatusItem.IOptions) {
    super();
    this._model = options.model;
    this._trans = options.trans ?? englishTrans();
    this.addClass('jp-fujita-statusbar');
    this.node.append(this._dot, this._text);
    this.node.addEventListener('click', options.onClick);
    this._model.statusChanged.connect(this._render, this);
    this._model.connectionChanged.connect(this._render, this);
    this._render();
  }

  private _render(): void {
    const state = displayState(this._model);
    this.node.dataset.fujitaState = state;
    const message = displayMessage(this._model, this._trans);
    this.node.title = this._trans.__('%1 (click to show the Django panel)', message);
    this._text.textContent = this._trans.__('Django: %1', state);
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
