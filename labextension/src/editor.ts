// Files at a line: the links the views show for a traceback frame or an error's `file:line`, and
// opening such a file in JupyterLab's editor with the cursor on that line.
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { CommandRegistry } from '@lumino/commands';

import { element } from './dom';
import { englishTrans, Trans } from './i18n';

/** JupyterLab's own command, which answers the opened (or revealed) document widget. */
const DOCMANAGER_OPEN = 'docmanager:open';

/** The class of every file link; `data-fujita-file` and `data-fujita-line` say where. */
export const FILE_LINK_CLASS = 'jp-fujita-frame';

/** What an opened text file looks like: a document widget whose content has a code editor. */
interface IPosition {
  line: number;
  column: number;
}

interface IEditorLike {
  readonly lineCount: number;
  setCursorPosition(position: IPosition): void;
  revealPosition(position: IPosition): void;
  focus(): void;
}

interface IDocumentWidgetLike {
  readonly context?: { readonly ready?: Promise<void> };
  readonly revealed?: Promise<void>;
  readonly content?: { readonly editor?: unknown };
}

/**
 * Open `path` (relative to the Jupyter root) in the main area and, for a text file, put the
 * cursor at the start of `line` (1-based) and scroll it into view.
 */
export async function openFileAtLine(
  commands: CommandRegistry,
  path: string,
  line?: number | null
): Promise<void> {
  if (!path) {
    throw new Error('no file given');
  }
  if (!commands.hasCommand(DOCMANAGER_OPEN)) {
    throw new Error('this page cannot open files');
  }
  const widget = (await commands.execute(DOCMANAGER_OPEN, { path })) as IDocumentWidgetLike | null;
  if (!widget || typeof line !== 'number' || line < 1) {
    return;
  }
  await widget.context?.ready;
  await widget.revealed;
  const editor = widget.content?.editor;
  if (!isEditor(editor)) {
    return; // not a text editor (an image, a notebook): opening it is all we can do
  }
  const position = { line: Math.min(line, Math.max(editor.lineCount, 1)) - 1, column: 0 };
  editor.setCursorPosition(position);
  editor.revealPosition(position);
  editor.focus();
}

/**
 * A link to `file` at `line`: a real address of the file (so a middle click opens it in another
 * tab); a plain click is caught by `handleFileLinks` and opens it here.
 */
export function fileLink(
  file: string,
  line: number | null | undefined,
  text?: string,
  trans: Trans = englishTrans()
): HTMLElement {
  const hasLine = typeof line === 'number' && line > 0;
  const where = hasLine ? `${file}:${line}` : file;
  const link = element('a', FILE_LINK_CLASS, text ?? where);
  link.href = URLExt.join(PageConfig.getTreeUrl(), URLExt.encodeParts(file));
  link.dataset.fujitaFile = file;
  if (hasLine) {
    link.dataset.fujitaLine = String(line);
  }
  link.title = trans.__('Open %1 in the editor', where);
  return link;
}

/**
 * Whether `file` can be opened: a path relative to the Jupyter root, inside it (an absolute path
 * is outside the root, JupyterLab cannot open it).
 */
export function isOpenable(file: string | null | undefined): boolean {
  return (
    typeof file === 'string' &&
    file !== '' &&
    !/^([/\\]|[A-Za-z]:)/.test(file) &&
    !file.split(/[/\\]/).includes('..')
  );
}

/** Open the file of any file link clicked inside `root` (plain left clicks only). */
export function handleFileLinks(
  root: HTMLElement,
  open: (file: string, line: number | null) => void
): void {
  root.addEventListener('click', event => {
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) {
      return; // the browser's own: another tab or window
    }
    const link = (event.target as Element | null)?.closest?.(`.${FILE_LINK_CLASS}`);
    if (!(link instanceof HTMLElement) || !root.contains(link) || !link.dataset.fujitaFile) {
      return;
    }
    event.preventDefault();
    const line = Number(link.dataset.fujitaLine);
    open(link.dataset.fujitaFile, Number.isInteger(line) && line > 0 ? line : null);
  });
}

function isEditor(value: unknown): value is IEditorLike {
  const editor = value as Partial<IEditorLike> | null | undefined;
  return (
    typeof editor?.setCursorPosition === 'function' &&
    typeof editor.revealPosition === 'function' &&
    typeof editor.focus === 'function' &&
    typeof editor.lineCount === 'number'
  );
}
