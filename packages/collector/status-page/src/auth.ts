/**
 * The API token, when the collector is configured with one. It is kept in
 * sessionStorage (this tab only, gone when the tab closes), sent only as an
 * `Authorization: Bearer` header, and never put in a URL or logged.
 */

const STORAGE_KEY = "sessionlens.apiToken";

export type TokenRequestReason = "required" | "rejected";

/** Asks the person for a token; resolves once one is stored, rejects if they cancel. */
export type AskForToken = (reason: TokenRequestReason) => Promise<void>;

export class TokenStore {
  private memory: string | null = null;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly storage: Pick<Storage, "getItem" | "setItem" | "removeItem"> | null) {}

  get(): string | null {
    try {
      return this.storage?.getItem(STORAGE_KEY) ?? this.memory;
    } catch {
      return this.memory; // storage can be disabled; keep the token for this page's life
    }
  }

  set(token: string): void {
    this.memory = token;
    try {
      this.storage?.setItem(STORAGE_KEY, token);
    } catch {
      // memory copy above is enough
    }
    this.emit();
  }

  clear(): void {
    this.memory = null;
    try {
      this.storage?.removeItem(STORAGE_KEY);
    } catch {
      // nothing stored
    }
    this.emit();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Headers for an /api/ request. */
  headers(extra: Record<string, string> = {}): Record<string, string> {
    const token = this.get();
    return token ? { ...extra, Authorization: `Bearer ${token}` } : extra;
  }

  private emit(): void {
    for (const listener of this.listeners) listener();
  }
}

/** Thrown when the person dismissed the token form instead of entering one. */
export class TokenCancelled extends Error {
  readonly code = "token_cancelled";
  constructor() {
    super("an API token is required");
  }
}

export interface ApiClientOptions {
  /** Base the relative API paths resolve against (the page's own URL, so a path prefix works). */
  baseUrl: string;
  tokens: TokenStore;
  askForToken: AskForToken;
  fetch?: typeof fetch;
}

/**
 * fetch for /api/ paths: adds the token, and on 401 asks for one (once per
 * request: a second 401 asks again with "rejected") and retries.
 */
export class ApiClient {
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: ApiClientOptions) {
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  url(path: string): string {
    return new URL(path, this.options.baseUrl).toString();
  }

  /** One request with the current token, no retry; says which token it sent. */
  async send(path: string, init: RequestInit = {}): Promise<{ response: Response; sentToken: string | null }> {
    const sentToken = this.options.tokens.get();
    const response = await this.fetchImpl(this.url(path), {
      ...init,
      headers: this.options.tokens.headers({ Accept: "application/json", ...(init.headers as Record<string, string>) }),
    });
    return { response, sentToken };
  }

  /** A request that, on 401, asks for a token and tries again. */
  async request(path: string, init: RequestInit = {}): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const { response, sentToken } = await this.send(path, init);
      if (response.status !== 401 || attempt >= 3) return response;
      await response.body?.cancel().catch(() => undefined);
      await this.unauthorized(sentToken);
    }
  }

  /**
   * Handles a 401 for a request sent with `sentToken`: forgets that token and
   * waits for the person to enter another (or for another request to have got one).
   */
  async unauthorized(sentToken: string | null): Promise<void> {
    const { tokens, askForToken } = this.options;
    const current = tokens.get();
    if (current !== null && current !== sentToken) return; // someone already entered a new one
    if (sentToken !== null) tokens.clear();
    await askForToken(sentToken !== null ? "rejected" : "required");
  }
}
