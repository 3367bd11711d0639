import type { Reply } from '../domain/reply.js';

/**
 * The chat port: what the flows written once in src/chat (the feed, data incidents, the retrain
 * flow) need from a chat platform. Slack (src/slack) and Teams (src/teams) are its adapters; they
 * render the surface-neutral Reply (Block Kit, Adaptive Cards) and speak their platform's API.
 */

/** A message the bot posted: the conversation (Slack channel id, Teams conversation id) and its id there (Slack ts, Teams activity id). */
export interface MessageRef {
  conversation: string;
  id: string;
  /** The thread it is in, when it is a reply (Slack: the root's ts). */
  thread?: string;
}

/**
 * Thrown by an adapter when the chat platform refused a post, so that it certainly did not go out
 * (Slack `ok: false`, an HTTP 4xx, a 429). Any other error from a post means it may have gone out.
 */
export class NotPosted extends Error {
  constructor(
    message: string,
    /** How long the platform asked the bot to wait (a 429's Retry-After), when it did. */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'NotPosted';
  }
}

/**
 * What identifies a feed message or data incident besides what it shows. Adapters that can carry
 * it with the message (Slack message metadata) do, to find it again after a crash.
 */
export interface Envelope {
  kind: 'anomaly' | 'incident';
  /** The delivery id (anomalies) or incident key (incidents) the delivery log knows it by. */
  key: string;
  /** Machine-readable fields (asset, window_end, model_version, score, windows). */
  payload: Record<string, unknown>;
}

/** The feed's destination on one chat platform, and how messages get there. */
export interface FeedOutlet {
  /** The platform, for log lines and the delivery log's destinations (`slack`, `teams`). */
  readonly platform: string;
  /**
   * The feed's conversation, checked (Slack: found and the bot a member; Teams: recorded at
   * installation or configured). Throws a UserError saying what to do when there is none.
   */
  destination(): Promise<string>;
  /**
   * Posts a reply (with its chart, when it has one and the platform can show it) and returns its
   * id. Throws NotPosted when the platform refused it; any other error: it may have gone out.
   */
  post(conversation: string, reply: Reply, envelope: Envelope): Promise<string>;
  /** Replaces a posted message in place; false when it is gone (deleted in the conversation). */
  update(ref: MessageRef, reply: Reply, envelope: Envelope): Promise<boolean>;
  /**
   * Which of these keys are in the conversation already (posted before a crash or a lost answer),
   * with their message ids. `after` is the id of the newest message the log knows was posted.
   * A platform that cannot look messages up (Teams has no message metadata) answers an empty map:
   * the feed then sends those again (at least once, never lost).
   */
  findPosted(
    conversation: string,
    kind: Envelope['kind'],
    keys: Set<string>,
    after?: string,
  ): Promise<Map<string, string>>;
  /** Stops background work (charts added later) and waits for it. */
  stop(): Promise<void>;
}

/** Answers the person who asked, in the conversation they asked in (Slack: ephemeral; Teams: a message or the card). */
export type Respond = (reply: Reply | string, options?: { replaceOriginal?: boolean }) => Promise<void>;

/**
 * Where a retrain's progress is shown and updated in place, on one chat platform (Slack: a thread;
 * Teams: the confirmation card itself, so Teams makes one per confirmation).
 */
export interface ProgressOutlet {
  /**
   * Where progress for a run confirmed in `origin` can go, best first (Slack: the origin when the
   * bot may post there, then the feed channel). Decided before the run starts.
   */
  places(origin: string): Promise<string[]>;
  /** Opens the progress message showing `reply` in the first place that takes it; undefined when none did. */
  open(places: string[], origin: string, userId: string, reply: Reply): Promise<MessageRef | undefined>;
  update(ref: MessageRef, reply: Reply): Promise<void>;
  /** A sentence fragment pointing at the progress message ("see its thread" as a link). */
  link(ref: MessageRef | undefined): Promise<string>;
  /** The sentence for a run whose progress could not be posted anywhere: where to look, what to fix. */
  readonly nowhere: string;
}
