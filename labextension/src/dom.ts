// Small DOM helpers shared by the views. Text is always set with textContent.

/** A new element with a class and, optionally, its text. */
export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/** A JupyterLab-styled button. */
export function button(className: string, text: string, onClick: () => void): HTMLButtonElement {
  const node = element('button', `jp-Button jp-mod-styled ${className}`, text);
  node.type = 'button';
  node.addEventListener('click', onClick);
  return node;
}
