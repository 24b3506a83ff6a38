/** The token form, the confirmation dialog and toasts: native <dialog>s, no prompt()/confirm(). */
import { TokenCancelled, type TokenRequestReason, type TokenStore } from "./auth.js";
import { byId, el, setText } from "./dom.js";

/**
 * Asks for the API token. Concurrent requests that all got a 401 share one
 * form; it resolves once a token is stored and rejects when dismissed.
 */
export class TokenDialog {
  private readonly dialog = byId("token-dialog", HTMLDialogElement);
  private readonly form = byId("token-form", HTMLFormElement);
  private readonly input = byId("token-input", HTMLInputElement);
  private readonly message = byId("token-message", HTMLElement);
  private readonly error = byId("token-error", HTMLElement);
  private pending: { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } | null = null;

  constructor(private readonly tokens: TokenStore) {
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      const token = this.input.value.trim();
      if (!token) {
        this.showError("Enter the collector's API token.");
        return;
      }
      this.input.value = "";
      this.tokens.set(token);
      this.finish(null);
    });
    byId("token-cancel", HTMLButtonElement).addEventListener("click", () => this.dialog.close());
    // Escape or Cancel: the person chose not to give a token now.
    // (A close queued before the form was reopened must not cancel the new request.)
    this.dialog.addEventListener("close", () => {
      if (!this.dialog.open) this.finish(new TokenCancelled());
    });
  }

  ask(reason: TokenRequestReason): Promise<void> {
    if (this.pending) {
      if (reason === "rejected") this.showError("The collector refused that token.");
      return this.pending.promise;
    }
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.pending = { promise, resolve, reject };
    setText(
      this.message,
      "This collector requires an API token for its API. It is kept in this browser tab only and sent as an Authorization header.",
    );
    if (reason === "rejected") this.showError("The collector refused that token.");
    else this.error.hidden = true;
    if (!this.dialog.open) this.dialog.showModal();
    this.input.focus();
    return promise;
  }

  private showError(text: string): void {
    this.error.hidden = false;
    setText(this.error, text);
  }

  private finish(error: Error | null): void {
    const pending = this.pending;
    this.pending = null;
    if (this.dialog.open) this.dialog.close();
    if (!pending) return;
    if (error) pending.reject(error);
    else pending.resolve();
  }
}

export interface ConfirmText {
  title: string;
  body: string;
  confirm: string;
}

export class ConfirmDialog {
  private readonly dialog = byId("confirm-dialog", HTMLDialogElement);
  private readonly title = byId("confirm-title", HTMLElement);
  private readonly body = byId("confirm-body", HTMLElement);
  private readonly ok = byId("confirm-ok", HTMLButtonElement);
  private answer: ((ok: boolean) => void) | null = null;

  constructor() {
    this.ok.addEventListener("click", () => this.finish(true));
    byId("confirm-cancel", HTMLButtonElement).addEventListener("click", () => this.finish(false));
    this.dialog.addEventListener("close", () => {
      if (!this.dialog.open) this.finish(false);
    });
  }

  ask(text: ConfirmText): Promise<boolean> {
    this.finish(false); // a new question replaces an unanswered one
    setText(this.title, text.title);
    setText(this.body, text.body);
    setText(this.ok, text.confirm);
    return new Promise((resolve) => {
      this.answer = resolve;
      this.dialog.showModal();
      // Cancel has focus: Enter must not terminate by accident.
      byId("confirm-cancel", HTMLButtonElement).focus();
    });
  }

  private finish(ok: boolean): void {
    const answer = this.answer;
    this.answer = null;
    if (this.dialog.open) this.dialog.close();
    answer?.(ok);
  }
}

export type ToastTone = "info" | "success" | "error";

export class Toasts {
  private readonly host = byId("toasts", HTMLElement);

  show(text: string, tone: ToastTone = "info", durationMs = 4000): void {
    const toast = el("div", `toast toast-${tone}`, text);
    this.host.append(toast);
    while (this.host.childElementCount > 4) this.host.firstElementChild?.remove();
    setTimeout(() => toast.remove(), durationMs);
  }
}
