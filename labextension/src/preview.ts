// The site in a main-area tab: Django through the Jupyter server's preview route
// (`Status.preview_url`, a path on this page's own origin, behind Jupyter's login) in an iframe,
// with back, reload, the path inside the site and "open in a browser tab". The tab reloads by
// itself when Django comes back after a code change, and says why there is no site while Django
// is not up.
import { MainAreaWidget } from '@jupyterlab/apputils';
import {
  caretLeftIcon,
  IFrame,
  launchIcon,
  refreshIcon,
  Toolbar,
  ToolbarButton
} from '@jupyterlab/ui-components';
import { ISignal, Signal } from '@lumino/signaling';
import { Panel, Widget } from '@lumino/widgets';

import { element } from './dom';
import { djangoIcon } from './icon';
import { displayMessage } from './model';
import { IFujitaModel, PREVIEW_ID, ProcessState } from './tokens';

/**
 * What the framed site may do: the admin needs scripts, forms, its own cookies (same origin) and
 * popups. (JupyterLab's type misspells `allow-popups-to-escape-sandbox`: it is added by hand.)
 */
const SANDBOX: IFrame.SandboxExceptions[] = [
  'allow-scripts',
  'allow-forms',
  'allow-same-origin',
  'allow-popups',
  'allow-modals',
  'allow-downloads'
];

/** The placeholder's text for the states without a site to show. */
const NOT_UP: Partial<Record<ProcessState, string>> = {
  stopped: 'Django is stopped: start it to see the site.',
  crashed: 'Django crashed: start it again to see the site.',
  stopping: 'Django is stopping…',
  starting: 'Django is starting…',
  reloading: 'Django is reloading after a code change…',
  broken: 'Django is waiting for a fix (see the Django panel).'
};

/** The Navigation API, where the browser has it (TypeScript's DOM types do not yet). */
interface INavigationLike {
  readonly canGoBack: boolean;
}

/** A reload's scroll position, put back when the same page has loaded again. */
interface IScroll {
  href: string;
  x: number;
  y: number;
}

export class FujitaPreview extends MainAreaWidget<Panel> {
  constructor(options: FujitaPreview.IOptions) {
    super({ content: new Panel(), toolbar: new Toolbar() });
    this._model = options.model;
    this._path = sitePath(options.path ?? '');
    this.id = PREVIEW_ID;
    this.addClass('jp-fujita-preview');
    this.title.label = 'Django preview';
    this.title.icon = djangoIcon;
    this.title.caption = 'The Django site, through the Jupyter server';

    const iframe = this._frame.node.querySelector('iframe');
    if (iframe === null) {
      throw new Error('IFrame widget without an iframe');
    }
    this._iframe = iframe;
    iframe.classList.add('jp-fujita-preview-frame');
    iframe.sandbox.add('allow-popups-to-escape-sandbox');
    iframe.title = 'The Django site';
    iframe.addEventListener('load', this._onLoad);
    this._frame.addClass('jp-fujita-preview-frameBox');
    this._placeholder.addClass('jp-fujita-preview-placeholder');
    this.content.addClass('jp-fujita-preview-content');
    this.content.addWidget(this._placeholder);
    this.content.addWidget(this._frame);

    this._field.type = 'text';
    this._field.spellcheck = false;
    this._field.placeholder = '/';
    this._field.setAttribute('aria-label', 'Path inside the site (Enter goes there)');
    this._field.addEventListener('keydown', this._onFieldKey);
    this._field.addEventListener('blur', this._onFieldBlur);
    this._showPath(`/${this._path}`); // editable before Django is up: loaded once it is
    const pathBox = new Widget({ node: element('div', 'jp-fujita-preview-pathBox') });
    pathBox.node.append(this._field);
    this.toolbar.addClass('jp-fujita-preview-toolbar');
    this.toolbar.addItem('back', this._back);
    this.toolbar.addItem('reload', this._reload);
    this.toolbar.addItem('path', pathBox);
    this.toolbar.addItem('open-tab', this._openTab);

    this._model.statusChanged.connect(this._onModel, this);
    this._model.connectionChanged.connect(this._onModel, this);
    this._onModel();
  }

  /** The path inside the site shown last (or to be shown once Django is up), without a leading "/". */
  get path(): string {
    return this._path;
  }

  /** Emitted when `path` changes. */
  get pathChanged(): ISignal<this, string> {
    return this._pathChanged;
  }

  /** Go to `path` inside the site (now, or once Django is up). */
  navigate(path: string): void {
    this._setPath(sitePath(path));
    this._showPath(`/${this._path}`);
    if (this._siteShown) {
      this._go(this._path, false);
    }
  }

  /** Reload the page shown, at the same path. */
  reload(): void {
    if (!this._siteShown) {
      return;
    }
    const win = this._siteWindow();
    if (win === null || win.location.href === 'about:blank') {
      this._go(this._path, true);
      return;
    }
    const { href, hash } = win.location;
    this._scroll = { href, x: win.scrollX, y: win.scrollY };
    if (hash) {
      win.location.reload(); // replace() to the same URL with a #fragment only scrolls
    } else {
      win.location.replace(href); // a GET: never re-posts a form
    }
  }

  /** Back in the frame's own history (never the page's). */
  back(): void {
    const win = this._siteWindow();
    if (win !== null && this._canGoBack(win)) {
      win.history.back();
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._iframe.removeEventListener('load', this._onLoad);
    this._siteWindow()?.removeEventListener('hashchange', this._onLoad);
    this._field.removeEventListener('keydown', this._onFieldKey);
    this._field.removeEventListener('blur', this._onFieldBlur);
    this._model.statusChanged.disconnect(this._onModel, this);
    this._model.connectionChanged.disconnect(this._onModel, this);
    super.dispose();
  }

  /** Follow the process: show the site while Django serves it, reload it when it is back. */
  private _onModel(): void {
    const model = this._model;
    if (model.connection !== 'connected') {
      if (!this._loaded) {
        this._showPlaceholder(displayMessage(model));
      }
      return; // keep the site shown until the server is heard again
    }
    const status = model.status;
    if (status?.preview_url) {
      this._prefix = withSlash(status.preview_url);
    }
    const state = status?.state ?? null;
    if (state === null) {
      this._loaded = false;
      this._showPlaceholder(displayMessage(model));
    } else if ((state === 'running' || state === 'paused') && !status?.preview_url) {
      this._loaded = false;
      this._showPlaceholder(previewOff(status?.url ?? null));
    } else if (state === 'running' || state === 'paused') {
      this._showSite(false);
      if (!this._loaded) {
        this._loaded = true;
        this._stale = false;
        this._go(this._path, true);
      } else if (this._stale && state === 'running') {
        this._stale = false; // Django reloaded: the page shown may be older than the code
        this.reload();
      }
    } else if ((state === 'reloading' || state === 'broken') && this._loaded) {
      this._stale = true;
      this._showSite(true); // the last page, dimmed, until Django is back
    } else {
      this._loaded = false;
      this._showPlaceholder(NOT_UP[state] ?? `Django is ${state}.`);
    }
  }

  /** The frame has loaded a page (or moved to a #fragment): show where it is. */
  private readonly _onLoad = (): void => {
    const win = this._siteWindow();
    if (win === null) {
      // unreadable: another site, or a page that refuses frames (X-Frame-Options: DENY)
      this._showPath('', 'not readable here: another site, or a page refusing frames');
      this._renderButtons();
      return;
    }
    const { href, pathname, search, hash } = win.location;
    if (href === 'about:blank') {
      return;
    }
    win.addEventListener('hashchange', this._onLoad); // a new document each load: no duplicate
    if (this._prefix && pathname.startsWith(this._prefix)) {
      this._setPath(pathname.slice(this._prefix.length) + search + hash);
      this._showPath(`/${this._path}`);
    } else {
      this._showPath(pathname + search + hash); // on this server, outside the site
    }
    const scroll = this._scroll;
    this._scroll = null;
    if (scroll !== null && scroll.href === href) {
      win.scrollTo(scroll.x, scroll.y);
    }
    const title = win.document.title;
    this.title.caption = title ? `Django preview: ${title}` : 'Django preview';
    this._renderButtons();
  };

  private readonly _onFieldKey = (event: KeyboardEvent): void => {
    if (event.key === 'Enter') {
      event.preventDefault();
      this.navigate(this._field.value);
      this._field.blur();
    } else if (event.key === 'Escape') {
      event.preventDefault();
      this._field.blur();
    }
  };

  /** Leaving the field unconfirmed puts the shown path back. */
  private readonly _onFieldBlur = (): void => {
    this._field.value = this._shown;
  };

  /** Load `path` inside the site; `replace`: without a new history entry. */
  private _go(path: string, replace: boolean): void {
    if (!this._prefix) {
      return;
    }
    const url = this._prefix + path;
    const win = this._siteWindow();
    if (win !== null && win.location.href !== 'about:blank') {
      if (replace) {
        win.location.replace(url);
      } else {
        win.location.assign(url);
      }
    } else {
      this._frame.url = url; // first load, or the frame shows another site
    }
  }

  private _showSite(stale: boolean): void {
    this._siteShown = true;
    this._placeholder.hide();
    this._frame.show();
    this._frame.toggleClass('jp-mod-stale', stale);
    this._renderButtons();
  }

  private _showPlaceholder(text: string): void {
    this._siteShown = false;
    this._placeholder.node.textContent = text;
    this._placeholder.show();
    this._frame.hide();
    this._renderButtons();
  }

  private _renderButtons(): void {
    const win = this._siteShown ? this._siteWindow() : null;
    this._back.enabled = win !== null && this._canGoBack(win);
    this._reload.enabled = this._siteShown;
    this._openTab.enabled = this._siteShown;
  }

  /** The address of what the frame shows (the path inside the site when it cannot be read). */
  private _openInTab(): void {
    const win = this._siteWindow();
    const href = win?.location.href;
    const url = href && href !== 'about:blank' ? href : this._prefix + this._path;
    if (url) {
      window.open(url, '_blank', 'noopener');
    }
  }

  private _canGoBack(win: Window): boolean {
    const navigation = (win as Window & { navigation?: INavigationLike }).navigation;
    // Without the Navigation API, history.back() could take the page itself back: trust only the
    // Navigation API.
    return navigation?.canGoBack ?? false;
  }

  /** The frame's window when its page is ours to read (same origin), else null. */
  private _siteWindow(): Window | null {
    const win = this._iframe.contentWindow;
    try {
      return win !== null && typeof win.location.href === 'string' ? win : null;
    } catch {
      return null; // another origin
    }
  }

  private _setPath(path: string): void {
    if (path !== this._path) {
      this._path = path;
      this._pathChanged.emit(path);
    }
  }

  /** Show `text` in the path field, unless someone is typing there. */
  private _showPath(text: string, placeholder = '/'): void {
    this._shown = text;
    this._field.placeholder = placeholder;
    this._field.title = this._prefix ? `${this._prefix}${this._path}` : '';
    if (document.activeElement !== this._field) {
      this._field.value = text;
    }
  }

  private readonly _model: IFujitaModel;
  private readonly _frame = new IFrame({ sandbox: SANDBOX, referrerPolicy: 'same-origin' });
  private readonly _iframe: HTMLIFrameElement;
  private readonly _placeholder = new Widget();
  private readonly _field = element('input', 'jp-mod-styled jp-fujita-preview-path');
  private readonly _back = new ToolbarButton({
    icon: caretLeftIcon,
    tooltip: 'Back',
    dataset: { 'fujita-preview': 'back' },
    enabled: false,
    onClick: () => this.back()
  });
  private readonly _reload = new ToolbarButton({
    icon: refreshIcon,
    tooltip: 'Reload the page',
    dataset: { 'fujita-preview': 'reload' },
    enabled: false,
    onClick: () => this.reload()
  });
  private readonly _openTab = new ToolbarButton({
    icon: launchIcon,
    tooltip: 'Open this page in a browser tab',
    dataset: { 'fujita-preview': 'open-tab' },
    enabled: false,
    onClick: () => this._openInTab()
  });
  private readonly _pathChanged = new Signal<this, string>(this);
  /** The site's prefix on this server ("/user/alice/fujita/site/django/"), '' before it is known. */
  private _prefix = '';
  private _path: string;
  private _shown = '';
  /** The frame shows the site (not the placeholder). */
  private _siteShown = false;
  /** The site was loaded since Django last came up. */
  private _loaded = false;
  /** Django reloaded (or broke) since the page shown was loaded. */
  private _stale = false;
  private _scroll: IScroll | null = null;
}

export namespace FujitaPreview {
  export interface IOptions {
    model: IFujitaModel;
    /** The path inside the site to show first ("admin/"). */
    path?: string;
  }
}

/** A path inside the site, as kept: no leading slashes ("/admin/" → "admin/"). */
function sitePath(path: string): string {
  return path.trim().replace(/^\/+/, '');
}

function withSlash(path: string): string {
  return path.endsWith('/') ? path : `${path}/`;
}

function previewOff(url: string | null): string {
  const where = url ? ` Django itself answers at ${url}.` : '';
  return `The preview through Jupyter is off on this server (Fujita.preview).${where}`;
}
