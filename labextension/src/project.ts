// Which project is supervised, under the header: its manage.py (relative to the Jupyter root)
// and the settings module runserver gets, each one a line that ellipsises at the sidebar's width
// and shows itself whole on hover.
import { element } from './dom';
import { englishTrans, Trans } from './i18n';
import { ModelView } from './modelview';
import { IFujitaModel } from './tokens';

export class ProjectLine extends ModelView {
  constructor(model: IFujitaModel, trans: Trans = englishTrans()) {
    super(model);
    this._trans = trans;
    this.addClass('jp-fujita-project');
    this._path.dataset.fujitaProject = '';
    this._settings.dataset.fujitaSettings = '';
    this.node.append(this._path, this._settings);
    this.render();
  }

  protected render(): void {
    const status = this.model.connection === 'connected' ? this.model.status : null;
    const path = status?.manage_py ?? null;
    const settings = status?.settings ?? null;
    this.node.hidden = path === null && settings === null;
    this._path.textContent = path ?? '';
    this._path.title = path ? this._trans.__('The project: %1', path) : '';
    this._path.dataset.fujitaProject = path ?? '';
    this._settings.replaceChildren(
      element('span', 'jp-fujita-project-label', this._trans.__('settings:')),
      ' ',
      settings ?? ''
    );
    this._settings.title = settings ? `DJANGO_SETTINGS_MODULE=${settings}` : '';
    this._settings.dataset.fujitaSettings = settings ?? '';
    this._settings.hidden = settings === null;
  }

  private readonly _trans: Trans;
  private readonly _path = element('div', 'jp-fujita-project-path');
  private readonly _settings = element('div', 'jp-fujita-project-settings');
}
