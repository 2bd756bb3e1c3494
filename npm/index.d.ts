// Types for the `chattag` npm package (index.js). Settings are the keys of
// `window.chattagConfig`, documented in ARCHITECTURE.md ("Snippet settings").

export interface ChattagConfig {
  /** Collector URL, e.g. `https://collector.example/v1/events`. Absent: tag links, send nothing. */
  endpoint?: string;
  /** Chat ID prefix, 1–4 of A–Z. Default `CT`. */
  prefix?: string;
  /** Visible tag for personal chats; placeholders `{id}` (required) `{text}` `{url}` `{title}`. */
  template?: string;
  /** Days an ID lives without a new ad click (1–400). Default 21. */
  lifetimeDays?: number | string;
  /** Yandex Metrica counter number, for `ym(counter, 'getClientID')`. */
  counter?: number | string;
  /** `required`: read, tag and store nothing until `consent(true)`. Default `granted`. */
  consent?: 'granted' | 'required';
  /** Console diagnostics and the debug overlay. */
  debug?: boolean;
  /** Desktop visitors: offer a QR code of the tagged link on messenger clicks. */
  qr?: boolean;
}

export interface Utm {
  source?: string;
  medium?: string;
  campaign?: string;
  term?: string;
  content?: string;
}

/** What the snippet knows about the visitor; a key is absent when unknown. */
export interface Identifiers {
  client_id?: string;
  yclid?: string;
  user_id?: string;
  purchase_id?: string;
  gclid?: string;
  fbclid?: string;
  ga_client_id?: string;
  utm?: Utm;
}

/** Starts chattag on this page. Later calls, and calls outside a browser, do nothing. */
export function start(config?: ChattagConfig): void;

/** Resolves with the chat ID once the snippet runs (never resolves outside a browser). */
export function ready(): Promise<string>;

/** The visitor's chat ID, e.g. `CT8F2A9KQZ`; undefined before the snippet runs or before consent. */
export function id(): string | undefined;

/** `url` with the chat ID added when it is a messenger link; otherwise (or before start) unchanged. */
export function rewrite(url: string | URL): string;

/** The visitor's identifiers; `{}` before the snippet runs. */
export function identifiers(): Identifiers;

/** Ties the chat to your user ID; `null` clears it. Queued until the snippet runs. */
export function setUserId(value: string | number | null): void;

/** Ties the chat to an order / purchase ID; `null` clears it. Queued until the snippet runs. */
export function setPurchaseId(value: string | number | null): void;

/** With `consent: 'required'`: `true` starts the snippet, `false` stops it and clears its storage. */
export function consent(granted: boolean): void;
