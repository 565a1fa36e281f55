// The status bar item: the state at a glance; a click opens the sidebar.
import { Widget } from '@lumino/widgets';

import { element } from './dom';
import { displayMessage, displayState } from './model';
import { IFujitaModel } from './tokens';

export class FujitaStatusItem extends Widget {
  constructor(options: FujitaStatusItem.IOptions) {
    super();
    this._model = options.model;
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
    this.node.title = `${displayMessage(this._model)} (click to show the Django panel)`;
    this._text.textContent = `Django: ${state}`;
  }

  private readonly _model: IFujitaModel;
  private readonly _dot = element('span', 'jp-fujita-statusbar-dot');
  private readonly _text = element('span', 'jp-StatusBar-TextItem');
}

export namespace FujitaStatusItem {
  export interface IOptions {
    model: IFujitaModel;
    onClick: () => void;
  }
}
