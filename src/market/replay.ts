import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { ExitCode, UserError } from '../errors.js';
import type { MarketRecord } from './record.js';

/** One row of an OHLCV file: `timestamp,open,high,low,close,volume`, unix seconds UTC. */
export interface OhlcvRow {
  line: number;
  timestamp: number;
  close: number | null;
  volume: number | null;
}

export interface OhlcvFile {
  rows: OhlcvRow[];
  /** Lines whose timestamp is not a number: reported, since they cannot be placed in time. */
  badLines: number[];
}

const REQUIRED = ['timestamp', 'open', 'high', 'low', 'close', 'volume'] as const;

/** Reads an OHLCV CSV (header row required), sorted by timestamp. */
export async function readOhlcvCsv(file: string): Promise<OhlcvFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UserError(`Cannot read the replay file ${file}: ${(err as Error).message}`, {
      exitCode: ExitCode.Usage,
      cause: err,
    });
  }
  let records: string[][];
  try {
    records = parse(text, { bom: true, skip_empty_lines: true, trim: true, relax_column_count: true });
  } catch (err) {
    throw new UserError(`The replay file ${file} is not valid CSV: ${(err as Error).message}`, {
      exitCode: ExitCode.Usage,
      cause: err,
    });
  }
  const header = (records[0] ?? []).map((h) => h.toLowerCase());
  const index = Object.fromEntries(REQUIRED.map((name) => [name, header.indexOf(name)])) as Record<
    (typeof REQUIRED)[number],
    number
  >;
  const missing = REQUIRED.filter((name) => index[name] < 0);
  if (missing.length > 0) {
    throw new UserError(
      `The replay file ${file} needs a header row with ${REQUIRED.join(',')} (missing: ${missing.join(', ')}).`,
      { exitCode: ExitCode.Usage },
    );
  }
  const rows: OhlcvRow[] = [];
  const badLines: number[] = [];
  records.slice(1).forEach((cells, i) => {
    const line = i + 2;
    const timestamp = toNumber(cells[index.timestamp]);
    if (timestamp === null || !Number.isInteger(timestamp)) {
      badLines.push(line);
      return;
    }
    rows.push({
      line,
      timestamp,
      close: toNumber(cells[index.close]),
      volume: toNumber(cells[index.volume]),
    });
  });
  rows.sort((a, b) => a.timestamp - b.timestamp || a.line - b.line);
  return { rows, badLines };
}

function toNumber(cell: string | undefined): number | null {
  if (cell === undefined || cell === '') return null;
  const n = Number(cell);
  return Number.isFinite(n) ? n : null;
}

/**
 * Maps a row to a market record as DESIGN.md specifies: `current_price` = close, `total_volume` =
 * volume × close (USD traded in the row's minute), `last_updated` = the row's time. A row whose
 * numbers do not parse keeps them as null, so the pipeline drops and counts it rather than losing it.
 */
export function ohlcvToRecord(
  row: OhlcvRow,
  asset: { id: string; symbol: string; name: string },
): MarketRecord {
  return {
    id: asset.id,
    symbol: asset.symbol,
    name: asset.name,
    current_price: row.close,
    total_volume: row.close !== null && row.volume !== null ? row.volume * row.close : null,
    last_updated: new Date(row.timestamp * 1000).toISOString(),
  };
}
