// The debugger box, shown while a request is paused in pdb: where it stopped (a link to the
// file), an input whose Enter sends a line to runserver's stdin, and buttons for pdb's commonest
// answers. Its prompt and replies appear in the log. After a command that does not let the
// request go on (`p x`, `n`), the box stays a moment while pdb prompts again, so its input keeps
// the focus.
import { CommandRegistry } from '@lumino/commands';

import { button, element } from './dom';
import { fileLink, handleFileLinks, isOpenable } from './editor';
import { englishTrans, Trans } from './i18n';
import { ModelView } from './modelview';
import { CommandIDs, IDebuggerLocation, IFujitaModel } from './tokens';

const QUICK: readonly { text: string; title: (trans: Trans) => string }[] = [
  { text: 'c', title: trans => trans.__('continue: let the request go on') },
  { text: 'n', title: trans => trans.__('next: run to the next line of this function') },
  {
    text: 's',
    title: trans => trans.__('step: stop at the first possible occasion, inside a call too')
  },
  { text: 'q', title: trans => trans.__('quit: abort the request (it fails with BdbQuit)') }
];

/** Commands that let the request go on: no new prompt is expected after them. */
const GO_ON = new Set(['c', 'cont', 'continue', 'q', 'quit', 'exit']);
/** How long the box waits for the next prompt after another command. */
const LINGER_MS = 2000;

export class DebuggerBox extends ModelView {
  constructor(options: DebuggerBox.IOptions) {
    super(options.model);
    this._commands = options.commands;
    this._trans = options.trans ?? englishTrans();
    const trans = this._trans;
    this.addClass('jp-fujita-debugger');
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', trans.__('Debugger'));
    handleFileLinks(this.node, (file, line) => {
      void this._commands.execute(CommandIDs.openFile, { path: file, line });
    });

    this._input.type = 'text';
    this._input.placeholder = trans.__('pdb command, Enter sends (p x, l, c…)');
    this._input.setAttribute('aria-label', trans.__('Send a line to the debugger'));
    this._input.autocomplete = 'off';
    this._input.spellcheck = false;
    this._input.addEventListener('keydown', event => {
      if (event.key === 'Enter' && !event.isComposing) {
        event.preventDefault();
        void this._send(this._input.value, true);
      }
    });
    const quick = element('div', 'jp-fujita-debugger-quick');
    for (const { text, title } of QUICK) {
      const node = button('jp-fujita-debugger-send', text, () => void this._send(text, false));
      node.dataset.fujitaStdin = text;
      node.title = title(trans);
      quick.append(node);
    }
    const row = element('div', 'jp-fujita-debugger-row');
    row.append(this._input, quick);
    this.node.append(this._where, row);

    this.render();
  }

  dispose(): void {
    window.clearTimeout(this._lingerTimer);
    super.dispose();
  }

  protected render(): void {
    const model = this.model;
    const connected = model.connection === 'connected';
    const paused = connected && model.status?.state === 'paused';
    const waiting =
      !paused && connected && model.status?.state === 'running' && Date.now() < this._lingerUntil;
    this.node.hidden = !paused && !waiting;
    this.node.classList.toggle('jp-mod-waiting', waiting);
    if (!paused && !waiting) {
      this._key = '';
      this._lingerUntil = 0;
      return;
    }
    if (paused) {
      const location = model.status?.debugger ?? null;
      const key = JSON.stringify(location);
      if (key !== this._key) {
        this._key = key;
        this._renderWhere(location);
      }
    }
    const busy = model.isBusy('stdin');
    this._input.readOnly = busy; // not disabled: the input keeps the focus
    this.node.setAttribute('aria-busy', String(busy));
    for (const node of this.node.querySelectorAll('button')) {
      node.disabled = busy;
    }
  }

  private _renderWhere(location: IDebuggerLocation | null): void {
    const trans = this._trans;
    const parts: (string | HTMLElement)[] = [trans.__('Paused in the debugger')];
    if (location?.file) {
      const where = location.line ? `${location.file}:${location.line}` : location.file;
      parts.push(
        ' ',
        trans.__('at'),
        ' ',
        isOpenable(location.file) ? fileLink(location.file, location.line, undefined, trans) : where
      );
      if (location.function) {
        parts.push(' ', trans.__('in %1()', location.function));
      }
    }
    this._where.replaceChildren(...parts);
  }

  private async _send(text: string, fromInput: boolean): Promise<void> {
    if (this.model.isBusy('stdin')) {
      return;
    }
    window.clearTimeout(this._lingerTimer);
    if (GO_ON.has(text.trim())) {
      this._lingerUntil = 0;
    } else {
      this._lingerUntil = Date.now() + LINGER_MS;
      this._lingerTimer = window.setTimeout(() => this.update(), LINGER_MS + 50);
    }
    const sent: unknown = await this._commands.execute(CommandIDs.writeStdin, {
      text: `${text}\n`
    });
    if (fromInput && sent === true && this._input.value === text) {
      this._input.value = '';
    }
  }

  private readonly _commands: CommandRegistry;
  private readonly _trans: Trans;
  private readonly _where = element('div', 'jp-fujita-debugger-where');
  private readonly _input = element('input', 'jp-mod-styled jp-fujita-stdin');
  private _key = '';
  private _lingerUntil = 0;
  private _lingerTimer = 0;
}

export namespace DebuggerBox {
  export interface IOptions {
    model: IFujitaModel;
    commands: CommandRegistry;
    trans?: Trans;
  }
}
