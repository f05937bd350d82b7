/**
 * The live event stream (`GET /api/events`, Server-Sent Events).
 *
 * A browser's EventSource reconnects by itself after a network error and
 * then sends `Last-Event-ID`, so the server replays what was missed. It
 * gives up for good when the server answers with an error (a restart
 * closing the stream early, a 401 after the session expired, a proxy's
 * 502): then this class opens a new stream after a growing delay, and
 * because a new EventSource cannot resume, it asks the page to reload
 * what it shows (`onResync`). `events_lost` and `lagged` mean the same.
 */

export const EVENT_KINDS = [
  "execution_status",
  "execution_progress",
  "datasource_status",
  "storage_status",
  "notification",
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export type LiveEvent = { kind: EventKind; data: Record<string, unknown> };

/** The part of EventSource this class uses (a fake in tests). */
export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((ev: Event) => unknown) | null;
  onerror: ((ev: Event) => unknown) | null;
  addEventListener(type: string, listener: (ev: MessageEvent) => void): void;
  close(): void;
}

export type Options = {
  url?: string;
  onEvent: (event: LiveEvent) => void;
  /** The stream restarted without replay: reload what is shown. */
  onResync: () => void;
  /** Connected or not, for a status indicator. */
  onState?: (connected: boolean) => void;
  /**
   * The browser gave up on the stream: the server refused it (a 401 when
   * the session ended or was revoked, a 429, a restart). The page can
   * find out which (is the session still valid?) before the retry.
   */
  onGaveUp?: () => void;
  open?: (url: string) => EventSourceLike;
  schedule?: (fn: () => void, ms: number) => unknown;
  cancel?: (handle: unknown) => void;
};

const CLOSED = 2;
export const FIRST_DELAY_MS = 1000;
export const MAX_DELAY_MS = 30000;

/** The delay before reconnect attempt `attempt` (0-based): 1 s, 2 s, 4 s … 30 s. */
export function backoff(attempt: number): number {
  return Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.min(attempt, 10));
}

export class LiveEvents {
  private source: EventSourceLike | null = null;
  private attempts = 0;
  private timer: unknown = null;
  private stopped = false;
  private opened = false;

  constructor(private readonly options: Options) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) (this.options.cancel ?? clearTimeout)(this.timer as number);
    this.timer = null;
    this.source?.close();
    this.source = null;
  }

  private connect(): void {
    const open = this.options.open ?? ((url: string) => new EventSource(url, { withCredentials: true }));
    const source = open(this.options.url ?? "/api/events");
    this.source = source;
    source.onopen = () => {
      // A second open (after a reconnect) may have missed events.
      if (this.opened) this.options.onResync();
      this.opened = true;
      this.attempts = 0;
      this.options.onState?.(true);
    };
    source.onerror = () => {
      this.options.onState?.(false);
      // CONNECTING: the browser is retrying and will resume by itself.
      if (source.readyState !== CLOSED || this.stopped) return;
      source.close();
      this.options.onGaveUp?.();
      this.retryLater();
    };
    for (const kind of EVENT_KINDS) {
      source.addEventListener(kind, (ev) => {
        let data: Record<string, unknown> = {};
        try {
          data = JSON.parse(ev.data);
        } catch {
          return; // not the server's JSON: nothing to show
        }
        this.options.onEvent({ kind, data });
      });
    }
    source.addEventListener("events_lost", () => this.options.onResync());
    // `lagged`: the server ends the stream; the browser resumes it.
    source.addEventListener("lagged", () => this.options.onResync());
  }

  private retryLater(): void {
    const delay = backoff(this.attempts++);
    this.timer = (this.options.schedule ?? setTimeout)(() => {
      this.timer = null;
      if (!this.stopped) this.connect();
    }, delay);
  }
}
