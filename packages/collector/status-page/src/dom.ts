/**
 * DOM helpers. Everything an agent reported (user agents, paths, usernames,
 * project names) goes into the page as text only: these helpers set
 * `textContent`, never markup.
 */

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

/** The element with this id, checked to be of the expected kind. */
export function byId<T extends HTMLElement>(id: string, kind: { new (): T; prototype: T }): T {
  const element = document.getElementById(id);
  if (!(element instanceof kind)) throw new Error(`status page markup: #${id} is missing or not a ${kind.name}`);
  return element;
}

/** Sets text only when it changed: cheap to call every frame. */
export function setText(element: HTMLElement, text: string): void {
  if (element.textContent !== text) element.textContent = text;
}
