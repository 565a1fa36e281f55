// A request line read at a glance in a narrow sidebar: method, path, a status chip and the size,
// instead of Django's `[02/Dec/2026 10:00:00] "GET /path HTTP/1.1" 200 1234`, which wraps three
// times at 250 px. The raw line stays in the node (for the filter, copying, search), shown by the
// "raw" button.
import { statusClass } from './chips';
import { element } from './dom';
import { englishTrans, Trans } from './i18n';
import { ILine } from './tokens';

/** The class of a compact request line; with `jp-mod-raw` it shows the raw line instead. */
export const COMPACT_CLASS = 'jp-fujita-compact';
export const RAW_TOGGLE_CLASS = 'jp-fujita-raw-toggle';

/** Fill `node` with the compact form of a request line, then the raw line (hidden). */
export function renderCompactRequest(
  node: HTMLElement,
  line: ILine,
  renderRaw: (host: HTMLElement) => void,
  trans: Trans = englishTrans()
): void {
  const request = line.request!;
  node.classList.add(COMPACT_CLASS);
  const summary = element('span', 'jp-fujita-request-summary');
  const chip = element('span', 'jp-fujita-status-chip', String(request.status));
  const name = statusClass(request.status);
  if (name !== null) {
    chip.dataset.fujitaStatusClass = name;
  }
  summary.append(
    element('span', 'jp-fujita-request-method', request.method),
    ' ',
    element('span', 'jp-fujita-request-path', request.path),
    ' ',
    chip
  );
  if (typeof request.size === 'number') {
    summary.append(' ', element('span', 'jp-fujita-request-size', formatSize(request.size)));
  }
  const raw = element('span', 'jp-fujita-raw');
  renderRaw(raw);
  const toggle = element('button', RAW_TOGGLE_CLASS, trans.__('raw'));
  toggle.type = 'button';
  toggle.title = trans.__('Show the line as Django printed it');
  toggle.setAttribute('aria-pressed', 'false');
  node.append(summary, raw, toggle);
}

/** Show the raw line, or the compact one again. */
export function toggleRaw(node: HTMLElement): void {
  const raw = node.classList.toggle('jp-mod-raw');
  node.querySelector(`.${RAW_TOGGLE_CLASS}`)?.setAttribute('aria-pressed', String(raw));
}

/** 56925 → "55.6 KiB" */
export function formatSize(bytes: number): string {
  if (bytes < 1024) {
    return `${bytes} B`;
  }
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
