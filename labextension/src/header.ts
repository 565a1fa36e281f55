// The top of the sidebar: the state badge, the status message, the site's link and its Preview
// button (the site in a JupyterLab tab), the Start / Stop / Restart buttons and the error banner
// (its `file:line` opens the file there, a system check error lists its checks). It renders the
// model and runs commands.
import { tabIcon } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';

import { button, element } from './dom';
import { fileLink, handleFileLinks, isOpenable } from './editor';
import { englishTrans, Trans } from './i18n';
import { displayMessage, displayState } from './model';
import { ModelView } from './modelview';
import { Reachability } from './reach';
import { ILifecycleSpec, LIFECYCLE } from './lifecycle';
import {
  CommandIDs,
  DEFAULT_PROCESS,
  ICheck,
  IDjangoError,
  IFujitaModel,
  LifecycleAction
} from './tokens';

export class StatusHeader extends ModelView {
  constructor(options: StatusHeader.IOptions) {
    super(options.model);
    this._onReveal = options.onReveal;
    this._trans = options.trans ?? englishTrans();
    const trans = this._trans;
    this.addClass('jp-fujita-header');

    const titleRow = element('div', 'jp-fujita-titleRow');
    titleRow.append(this._title, this._badge);
    this._url.target = '_blank';
    this._url.rel = 'noopener';
    this._preview = button('jp-fujita-preview-button', '', () => {
      void options.commands.execute(CommandIDs.openPreview);
    });
    this._preview.dataset.fujitaAction = 'preview';
    this._preview.title = trans.__(
      'Preview the site in a JupyterLab tab (through the Jupyter server)'
    );
    this._preview.append(
      tabIcon.element({ tag: 'span', className: 'jp-fujita-action-icon' }),
      element('span', 'jp-fujita-action-label', trans.__('Preview'))
    );
    const actions = element('div', 'jp-fujita-actions');
    for (const spec of LIFECYCLE) {
      const node = actionButton(spec, trans, () => {
        const name = this.model.processName;
        void options.commands.execute(spec.command, name === null ? {} : { name });
      });
      this._buttons.set(spec.action, node);
      actions.append(node);
    }
    this._error.setAttribute('role', 'alert');
    handleFileLinks(this._error, (file, line) => {
      void options.commands.execute(CommandIDs.openFile, { path: file, line });
    });
    this.node.append(titleRow, this._message, actions, this._error);

    this.render();
  }

  protected render(): void {
    const model = this.model;
    const state = displayState(model);
    const name = model.processName;
    this._title.textContent =
      model.status?.kind === 'program' && name
        ? name
        : name && name !== DEFAULT_PROCESS
          ? this._trans.__('Django: %1', name)
          : this._trans.__('Django');
    this._badge.dataset.fujitaState = state;
    this._badge.textContent = state;
    // no link to a site that does not answer (broken, reloading)
    const serving = state !== 'broken' && state !== 'reloading';
    const url = model.connection === 'connected' && serving ? model.status?.url : null;
    const direct = url && /^https?:\/\//i.test(url) ? url : null;
    const preview = model.connection === 'connected' ? model.status?.preview_url : null;
    const mode = model.status?.preview;
    // Through Jupyter when that is the only way this browser reaches the site.
    const probe = model.status?.reach_probe;
    const throughJupyter =
      !!preview &&
      !!direct &&
      (mode === 'on' ||
        (mode === 'offered' && !!probe && this._reach.check(probe) === 'unreachable'));
    if (throughJupyter) {
      this._renderMessage(displayMessage(model), null);
      this._url.href = preview;
      this._url.textContent = 'Open the site through Jupyter';
      this._url.title = `${direct} is not reachable from this browser: the site is served through the Jupyter server`;
      this._url.dataset.fujitaLink = 'preview';
      this._message.append(' ', this._url);
    } else {
      this._url.title = '';
      this._url.dataset.fujitaLink = 'direct';
      this._renderMessage(displayMessage(model), direct);
    }
    if (preview) {
      this._message.append(' ', this._preview);
    }

    for (const spec of LIFECYCLE) {
      const { action } = spec;
      const node = this._buttons.get(action)!;
      node.title =
        name && name !== DEFAULT_PROCESS ? spec.named(this._trans, name) : spec.label(this._trans);
      const busy = model.isBusy(action);
      node.disabled = !model.canRunLifecycleAction(action);
      node.classList.toggle('jp-mod-busy', busy);
      node.setAttribute('aria-busy', String(busy));
    }
    this._renderError(model.connection === 'connected' ? (model.status?.error ?? null) : null);
  }

  /** The message, with the site's address in it as a link (after it when it is not in it). */
  private _renderMessage(message: string, url: string | null): void {
    // The error banner, or the debugger box, says it already.
    const status = this.model.status;
    this._message.hidden =
      message === status?.error?.message || (status?.state === 'paused' && !!status.debugger);
    if (url === null) {
      this._message.textContent = message;
      return;
    }
    this._url.href = url;
    this._url.textContent = url;
    const at = message.indexOf(url);
    if (at < 0) {
      this._message.replaceChildren(message, ' ', this._url);
    } else {
      this._message.replaceChildren(
        message.slice(0, at),
        this._url,
        message.slice(at + url.length)
      );
    }
  }

  private _renderError(error: IDjangoError | null): void {
    this._error.hidden = error === null;
    const key = JSON.stringify(error);
    if (key === this._errorKey) {
      return; // unchanged: keep the nodes (and a focused link's focus)
    }
    this._errorKey = key;
    if (error === null) {
      this._error.replaceChildren();
      return;
    }
    const title = element(
      'div',
      'jp-fujita-error-title',
      error.exception || errorTitle(error.kind, this._trans)
    );
    if (error.exception) {
      title.append(element('span', 'jp-fujita-error-kind', error.kind));
    }
    const parts: HTMLElement[] = [title];
    const checks = error.checks ?? [];
    if (checks.length === 0) {
      parts.push(element('div', 'jp-fujita-error-message', error.message));
    } else {
      // the checks say what the message says, one by one
      const list = element('ul', 'jp-fujita-error-checks');
      list.append(...checks.map(checkItem));
      parts.push(list);
    }
    if (error.file) {
      const where = element('div', 'jp-fujita-error-where');
      if (isOpenable(error.file)) {
        where.append(fileLink(error.file, error.line, undefined, this._trans));
      } else {
        where.textContent = error.line ? `${error.file}:${error.line}` : error.file;
      }
      parts.push(where);
    }
    const seq = error.seq;
    if (typeof seq === 'number') {
      parts.push(
        button('jp-fujita-error-show', this._trans.__('Show in log'), () => this._onReveal(seq))
      );
    }
    this._error.replaceChildren(...parts);
  }

  private readonly _onReveal: (seq: number) => void;
  private readonly _trans: Trans;
  private readonly _title = element('span', 'jp-fujita-title');
  private readonly _badge = element('span', 'jp-fujita-badge');
  private readonly _message = element('div', 'jp-fujita-message');
  private readonly _url = element('a', 'jp-fujita-url');
  private readonly _preview: HTMLButtonElement;
  private readonly _reach = new Reachability(() => this.render());
  private readonly _error = element('div', 'jp-fujita-error');
  private readonly _buttons = new Map<LifecycleAction, HTMLButtonElement>();
  private _errorKey = '';
}

export namespace StatusHeader {
  export interface IOptions {
    model: IFujitaModel;
    commands: CommandRegistry;
    /** Show the log at this seq (the error's first line). */
    onReveal: (seq: number) => void;
    trans?: Trans;
  }
}

function actionButton(spec: ILifecycleSpec, trans: Trans, onClick: () => void): HTMLButtonElement {
  const node = button(`jp-fujita-action ${spec.className}`, '', onClick);
  node.dataset.fujitaAction = spec.action;
  node.append(
    spec.icon.element({ tag: 'span', className: 'jp-fujita-action-icon' }),
    element('span', 'jp-fujita-action-label', spec.button(trans))
  );
  return node;
}

/** `admin.E403: A 'django.template.backends…' instance must be configured…` */
function checkItem(check: ICheck): HTMLElement {
  const item = element('li', 'jp-fujita-error-check');
  item.dataset.fujitaCheck = check.id;
  item.append(element('code', 'jp-fujita-error-check-id', check.id), ' ', check.message);
  const about = [check.level, check.object && check.object !== '?' ? check.object : '']
    .filter(Boolean)
    .join(' · ');
  if (about) {
    item.title = about;
  }
  return item;
}

/** "system-check" → "System check error". */
function errorTitle(kind: string, trans: Trans): string {
  const words = kind.replace(/-/g, ' ');
  return trans.__('%1 error', `${words.charAt(0).toUpperCase()}${words.slice(1)}`);
}
