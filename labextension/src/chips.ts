// The status chips next to the log's filter box: toggle 2xx / 3xx / 4xx / 5xx to show only the
// request lines of those classes (none on shows every line).
import { element } from './dom';
import { englishTrans, Trans } from './i18n';

export const STATUS_CLASSES = ['2xx', '3xx', '4xx', '5xx'] as const;

export type StatusClass = (typeof STATUS_CLASSES)[number];

/** 404 → "4xx"; null for a status outside 200–599 (1xx is never logged as a request). */
export function statusClass(status: number): StatusClass | null {
  const name = `${Math.floor(status / 100)}xx`;
  return (STATUS_CLASSES as readonly string[]).includes(name) ? (name as StatusClass) : null;
}

const TITLES: Record<StatusClass, (trans: Trans) => string> = {
  '2xx': trans => trans.__('Show only successful requests (2xx); combine chips to see several'),
  '3xx': trans => trans.__('Show only redirected requests (3xx); combine chips to see several'),
  '4xx': trans => trans.__('Show only client error requests (4xx); combine chips to see several'),
  '5xx': trans => trans.__('Show only server error requests (5xx); combine chips to see several')
};

export class StatusChips {
  constructor(
    private readonly _onChange: (selected: ReadonlySet<StatusClass>) => void,
    trans: Trans = englishTrans()
  ) {
    this.node.setAttribute('role', 'group');
    this.node.setAttribute('aria-label', trans.__('Show only the requests of these statuses'));
    for (const name of STATUS_CLASSES) {
      const chip = element('button', 'jp-fujita-chip', name);
      chip.type = 'button';
      chip.dataset.fujitaChip = name;
      chip.title = TITLES[name](trans);
      chip.setAttribute('aria-pressed', 'false');
      chip.addEventListener('click', () => this._toggle(name));
      this._chips.set(name, chip);
      this.node.append(chip);
    }
  }

  readonly node = element('div', 'jp-fujita-chips');

  get selected(): ReadonlySet<StatusClass> {
    return this._selected;
  }

  /** Turn every chip off (without telling: the caller resets the view itself). */
  clear(): void {
    this._selected = new Set();
    this._render();
  }

  private _toggle(name: StatusClass): void {
    const selected = new Set(this._selected);
    if (!selected.delete(name)) {
      selected.add(name);
    }
    this._selected = selected;
    this._render();
    this._onChange(selected);
  }

  private _render(): void {
    for (const [name, chip] of this._chips) {
      const on = this._selected.has(name);
      chip.setAttribute('aria-pressed', String(on));
      chip.classList.toggle('jp-mod-active', on);
    }
  }

  private readonly _chips = new Map<StatusClass, HTMLButtonElement>();
  private _selected: ReadonlySet<StatusClass> = new Set();
}
