// Django's hints under the header, each a button that runs its action ("Apply 18 migrations",
// "Start on the next free port"). A hint without an action is shown as a note. A hint about a
// file (a conflicting migration) links to it: a click opens it in JupyterLab's editor.
import { CommandRegistry } from '@lumino/commands';

import { button, element } from './dom';
import { fileLink, handleFileLinks, isOpenable } from './editor';
import { englishTrans, Trans } from './i18n';
import { ModelView } from './modelview';
import { CommandIDs, IFujitaModel, IHint } from './tokens';

export class HintsView extends ModelView {
  constructor(options: HintsView.IOptions) {
    super(options.model);
    this._commands = options.commands;
    this._trans = options.trans ?? englishTrans();
    this.addClass('jp-fujita-hints');
    this.node.setAttribute('role', 'group');
    this.node.setAttribute(
      'aria-label',
      (options.trans ?? englishTrans()).__('What Django suggests')
    );
    handleFileLinks(this.node, (path, line) => {
      void this._commands.execute(CommandIDs.openFile, { path, line });
    });
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
    const { action, file } = hint;
    const parts: HTMLElement[] = [];
    if (!action) {
      parts.push(element('div', 'jp-fujita-hint-note', hint.message));
    } else {
      const node = button('jp-fujita-hint', hint.label || hint.message, () => {
        void this._commands.execute(CommandIDs.runHintAction, { action });
      });
      node.dataset.fujitaHint = action;
      node.title = hint.message;
      parts.push(node);
    }
    if (file) {
      parts.push(
        isOpenable(file)
          ? fileLink(file, null, undefined, this._trans)
          : element('span', 'jp-fujita-hint-file', file)
      );
    }
    if (parts.length === 1) {
      parts[0].dataset.fujitaHintKind = hint.kind;
      return parts[0];
    }
    const group = element('div', 'jp-fujita-hint-group');
    group.dataset.fujitaHintKind = hint.kind;
    group.append(...parts);
    return group;
  }

  private readonly _commands: CommandRegistry;
  private readonly _trans: Trans;
  private _key = '';
}

export namespace HintsView {
  export interface IOptions {
    model: IFujitaModel;
    commands: CommandRegistry;
    trans?: Trans;
  }
}
