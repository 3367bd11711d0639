import { createHash } from 'node:crypto';

/** At most this many bytes of chart images are kept (a chart is ~30–60 KB: about a thousand). */
const MAX_BYTES = 64 * 1024 * 1024;

/** A content address: the lower-case hex SHA-256 of the PNG. */
export const CHART_HASH = /^[0-9a-f]{64}$/;

export interface ChartStore {
  /** Keeps a PNG and returns its content address. */
  put(png: Buffer): string;
  get(hash: string): Buffer | undefined;
}

/**
 * The chart images the bot rendered, by content address, for Teams clients to load from
 * `<TEAMS_PUBLIC_URL>/charts/<sha256>.png`: a card cannot carry an image inline within Teams'
 * message size limit, so it names one by URL. Kept in memory only, least recently used dropped
 * past MAX_BYTES: after a restart, or long after, an old card shows its image's alt text instead.
 * Nothing is written to disk (nothing to clean up, nothing served from a folder).
 */
export function createChartStore(maxBytes = MAX_BYTES): ChartStore {
  // A Map iterates in insertion order: re-inserting on use keeps the least recent first.
  const images = new Map<string, Buffer>();
  let bytes = 0;
  return {
    put(png) {
      const hash = createHash('sha256').update(png).digest('hex');
      const known = images.get(hash);
      if (known) {
        images.delete(hash);
        images.set(hash, known);
        return hash;
      }
      images.set(hash, png);
      bytes += png.length;
      for (const [oldest, image] of images) {
        if (bytes <= maxBytes || oldest === hash) break;
        images.delete(oldest);
        bytes -= image.length;
      }
      return hash;
    },
    get(hash) {
      const image = images.get(hash);
      if (image) {
        images.delete(hash);
        images.set(hash, image);
      }
      return image;
    },
  };
}
