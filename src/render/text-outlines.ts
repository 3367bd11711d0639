/**
 * SVG text replaced by its glyph outlines, kept for the next render. Shaping a `<text>` (font
 * lookup, shaping, outlines) costs resvg about 0.4 ms each, 7–9 ms of a chart's 18 labels, and a
 * chart mostly repeats the last one's labels (`03:00`, `$96,000`, the title). resvg does that work
 * once per text here: `Resvg.toString()` writes out the usvg-simplified SVG (resvg-js typings),
 * where text is plain paths. Drawn from those paths the PNG is the same picture (measured: at most
 * a dozen of its 3.7 million channel values differ, by ≤ 13 of 255, from rounding on glyph edges).
 */
import { Resvg, type ResvgRenderOptions } from '@resvg/resvg-js';

/** A `<text>` placed by a `transform` (as Vega writes every text), with plain content. */
const TEXT = /<text\b([^>]*?)\s+transform="([^"]*)"([^>]*)>([^<]*)<\/text>/g;
/** Attributes for assistive technology, not drawn (Vega puts data values in `aria-label`). */
const NOT_DRAWN = /\s+(?:aria-[\w-]+|role)="[^"]*"/g;

export interface TextOutliner {
  /** `svg` with every outlined `<text>` as a group of paths at the same place. */
  draw(svg: string): string;
  /** Forgets every outline kept. */
  clear(): void;
}

/**
 * `kept` outlines at most, the least recently used dropped first (an outline is about 0.7 kB of
 * path data a glyph: 3–5 kB for an axis label, 20–30 kB for a title).
 */
export function createTextOutliner(options: {
  /** resvg's font options, asked for when a text is first outlined. */
  font: () => ResvgRenderOptions['font'];
  kept: number;
}): TextOutliner {
  const outlines = new Map<string, string | null>();

  /** The paths of a text drawn at the origin, or null to leave it to resvg (nothing reusable). */
  function outline(text: string): string | null {
    const known = outlines.get(text);
    if (known !== undefined) {
      outlines.delete(text);
      outlines.set(text, known);
      return known;
    }
    const written = new Resvg(`<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1">${text}</svg>`, {
      font: options.font(),
    }).toString();
    // Only a self-contained result is reusable: no definitions (gradients, clips) referred to by id.
    const start = written.indexOf('<defs/>');
    const end = written.lastIndexOf('</svg>');
    const paths = start >= 0 && end > start ? written.slice(start + '<defs/>'.length, end).trim() : null;
    outlines.set(text, paths);
    for (const oldest of outlines.keys()) {
      if (outlines.size <= options.kept) break;
      outlines.delete(oldest);
    }
    return paths;
  }

  const draw = (svg: string): string =>
    svg.replace(
      TEXT,
      (element: string, before: string, transform: string, after: string, content: string) => {
        const paths = outline(
          `<text${before.replace(NOT_DRAWN, '')}${after.replace(NOT_DRAWN, '')}>${content}</text>`,
        );
        return paths === null ? element : `<g transform="${transform}">${paths}</g>`;
      },
    );
  return { draw, clear: () => outlines.clear() };
}
