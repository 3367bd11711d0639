/**
 * Feedback from the channel on the feed's messages: someone says an announced window was a real
 * event or noise. One label per person per window (a new click replaces it); the lakehouse keeps
 * them, so the precision of each model version can be read back (status).
 */
export type LabelValue = 'real' | 'noise';

export interface Label {
  asset: string;
  /** ISO-8601 UTC. */
  window_end: string;
  /** Who labelled it (a chat user id: Slack U…, a Teams Entra object id). */
  user: string;
  label: LabelValue;
  /** The model version that scored the window when it was labelled. */
  model_version: number;
  /** ISO-8601 UTC. */
  labelled_at: string;
}

/** The labels of a message's windows: each person counted once, with their latest label. */
export interface LabelCounts {
  real: number;
  noise: number;
  people: number;
}

/** Labels of the windows a model version scored: precision = real / (real + noise) labels. */
export interface LabelPrecision {
  model_version: number;
  /** Windows with at least one label. */
  windows: number;
  /** Labels (one per person per window). */
  real: number;
  noise: number;
  precision: number | null;
}
