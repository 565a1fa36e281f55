// A widget that shows part of the model: it renders again (once per frame, through Lumino's
// update request) whenever the status, the connection or a busy flag changes.
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { IFujitaModel } from './tokens';

export abstract class ModelView extends Widget {
  constructor(protected readonly model: IFujitaModel) {
    super();
    model.statusChanged.connect(this._onChange, this);
    model.connectionChanged.connect(this._onChange, this);
    model.busyChanged.connect(this._onChange, this);
  }

  protected onUpdateRequest(msg: Message): void {
    super.onUpdateRequest(msg);
    this.render();
  }

  /** Bring the DOM in line with the model; subclasses also call it once they are built. */
  protected abstract render(): void;

  private _onChange(): void {
    this.update();
  }
}
