// Which project is supervised, under the header: its manage.py (relative to the Jupyter root)
// and the settings module runserver gets, each one a line that ellipsises at the sidebar's width
// and shows itself whole on hover; where the process's command comes from and what starts before
// it ("from Procfile.dev · after css"), when that is not plain Django; and a quiet warning when
// its log is kept in memory only (the disk log failed).
import { element } from './dom';
import { englishTrans, Trans } from './i18n';
import { ModelView } from './modelview';
import { IFujitaModel, IStatus } from './tokens';

export class ProjectLine extends ModelView {
  constructor(model: IFujitaModel, trans: Trans = englishTrans()) {
    super(model);
    this._trans = trans;
    this.addClass('jp-fujita-project');
    this._path.dataset.fujitaProject = '';
    this._settings.dataset.fujitaSettings = '';
    this._origin.dataset.fujitaOrigin = '';
    this._diskWarning.dataset.fujitaDiskWarning = '';
    this.node.append(this._path, this._settings, this._origin, this._diskWarning);
    this.render();
  }

  protected render(): void {
    const status = this.model.connection === 'connected' ? this.model.status : null;
    const path = status?.manage_py ?? null;
    const settings = status?.settings ?? null;
    const origin = status ? originText(status, this._trans) : '';
    const diskFailed = status?.log_disk_failed ?? null;
    this.node.hidden = path === null && settings === null && !origin && diskFailed === null;
    this._origin.textContent = origin;
    this._origin.hidden = !origin;
    this._diskWarning.textContent = diskFailed
      ? this._trans.__('Log kept in memory only: %1', diskFailed)
      : '';
    this._diskWarning.title = this._diskWarning.textContent;
    this._diskWarning.hidden = diskFailed === null;
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
    this._path.hidden = path === null;
  }

  private readonly _trans: Trans;
  private readonly _path = element('div', 'jp-fujita-project-path');
  private readonly _settings = element('div', 'jp-fujita-project-settings');
  private readonly _origin = element('div', 'jp-fujita-project-origin');
  private readonly _diskWarning = element('div', 'jp-fujita-disk-warning');
}

/** "from Procfile.dev · after css, worker"; empty for Django from the Fujita settings alone. */
function originText(status: IStatus, trans: Trans): string {
  const parts: string[] = [];
  if (status.source && status.source !== 'Fujita') {
    parts.push(trans.__('from %1', status.source));
  }
  if (status.depends_on?.length) {
    parts.push(trans.__('after %1', status.depends_on.join(', ')));
  }
  return parts.join(' · ');
}
