// Django's hints under the header, each a button that runs its action ("Apply 18 migrations",
// "Start on the next free port"). A hint without an action is shown as a note.
import { CommandRegistry } from '@lumino/commands';

import { button, element } from './dom';
import { englishTrans, Trans } from './i18n';
import { ModelView } from './modelview';
import { CommandIDs, IFujitaModel, IHint } from './tokens';

export class HintsView extends ModelView {
  constructor(options: HintsView.IOptions) {
    super(options.model);
    this._commands = options.commands;
    this.addClass('jp-fujita-hints');
    this.node.setAttribute('role', 'group');
    this.node.setAttribute(
      'aria-label',
      (options.trans ?? englishTrans()).__('What Django suggests')
    );
    this.render();
  }

  protected render(): void {
    const model = this.model;
    const connected = model.connection === 'connected';
    const hints = connected ? (model.status?.hints ?? []) : [];
    const key = JSON.stringify(hints);
    if (key !== this._key) {
      this._key = key;
      this.node.replaceChildren(...hints.map(hint => this._createHint(hint)));
    }
    this.node.hidden = hints.length === 0;
    for (const node of this.node.querySelectorAll<HTMLButtonElement>('button[data-fujita-hint]')) {
      const busy = model.isBusy(`hint:${node.dataset.fujitaHint}`);
      node.disabled = busy || !connected;
      node.classList.toggle('jp-mod-busy', busy);
      node.setAttribute('aria-busy', String(busy));
    }
  }

  private _createHint(hint: IHint): HTMLElement {
    const { action } = hint;
    if (!action) {
      const note = element('div', 'jp-fujita-hint-note', hint.message);
      note.dataset.fujitaHintKind = hint.kind;
      return note;
    }
    const node = button('jp-fujita-hint', hint.label || hint.message, () => {
      void this._commands.execute(CommandIDs.runHintAction, { action });
    });
    node.dataset.fujitaHint = action;
    node.dataset.fujitaHintKind = hint.kind;
    node.title = hint.message;
    return node;
  }

  private readonly _commands: CommandRegistry;
  private _key = '';
}

export namespace HintsView {
  export interface IOptions {
    model: IFujitaModel;
    commands: CommandRegistry;
    trans?: Trans;
  }
}
