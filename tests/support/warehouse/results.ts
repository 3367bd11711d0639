import {
  type DuckDBDateValue,
  type DuckDBTimestampMillisecondsValue,
  type DuckDBTimestampNanosecondsValue,
  type DuckDBTimestampSecondsValue,
  type DuckDBTimestampTZValue,
  type DuckDBTimestampValue,
  type DuckDBType,
  DuckDBTypeId,
  type DuckDBValue,
} from '@duckdb/node-api';
import { type Int64, type TTypes, thrift, ttypes } from './types.js';

/**
 * DuckDB result columns → HiveServer2 column-based results, typed the way a Databricks SQL
 * warehouse types them and encoded the way the driver's JsonResultHandler decodes them:
 *
 * | DuckDB                                | TTypeId          | TColumn     | driver returns        |
 * |---------------------------------------|------------------|-------------|-----------------------|
 * | BOOLEAN                               | BOOLEAN_TYPE     | boolVal     | boolean               |
 * | TINYINT                               | TINYINT_TYPE     | byteVal     | number                |
 * | SMALLINT, UTINYINT                    | SMALLINT_TYPE    | i16Val      | number                |
 * | INTEGER, USMALLINT                    | INT_TYPE         | i32Val      | number                |
 * | BIGINT, UINTEGER, UBIGINT, (U)HUGEINT | BIGINT_TYPE      | i64Val      | number (Int64)        |
 * | FLOAT / DOUBLE                        | FLOAT / DOUBLE   | doubleVal   | number                |
 * | DECIMAL(p,s)                          | DECIMAL_TYPE     | stringVal   | number                |
 * | VARCHAR                               | STRING_TYPE      | stringVal   | string                |
 * | TIMESTAMP[_S/_MS/_NS], TIMESTAMPTZ    | TIMESTAMP_TYPE   | stringVal   | 'YYYY-MM-DD HH:MM:SS[.ffffff]' (UTC) |
 * | DATE                                  | DATE_TYPE        | stringVal   | 'YYYY-MM-DD'          |
 * | NULL literal                          | NULL_TYPE        | stringVal   | null                  |
 * | anything else                         | STRING_TYPE      | stringVal   | DuckDB's text form    |
 *
 * HUGEINT matters because DuckDB's `sum(BIGINT)` is a HUGEINT where Spark's is a BIGINT.
 * NULLs are set in each column's `nulls` bitmap (bit i % 8 of byte i / 8), with a placeholder value.
 */

type ColumnKind = 'boolVal' | 'byteVal' | 'i16Val' | 'i32Val' | 'i64Val' | 'doubleVal' | 'stringVal';

export interface ResultColumn {
  name: string;
  typeId: TTypes.TTypeId;
  kind: ColumnKind;
  precision?: number;
  scale?: number;
  encode: (value: DuckDBValue) => unknown;
}

const T = ttypes.TTypeId;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export function resultColumn(name: string, type: DuckDBType): ResultColumn {
  const column = (typeId: TTypes.TTypeId, kind: ColumnKind, encode: (value: DuckDBValue) => unknown) => ({
    name,
    typeId,
    kind,
    encode,
  });
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return column(T.BOOLEAN_TYPE, 'boolVal', (v) => v as boolean);
    case DuckDBTypeId.TINYINT:
      return column(T.TINYINT_TYPE, 'byteVal', (v) => v as number);
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.UTINYINT:
      return column(T.SMALLINT_TYPE, 'i16Val', (v) => v as number);
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.USMALLINT:
      return column(T.INT_TYPE, 'i32Val', (v) => v as number);
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UINTEGER:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
      return column(T.BIGINT_TYPE, 'i64Val', (v) => toInt64(BigInt(v as bigint | number), name));
    case DuckDBTypeId.FLOAT:
      return column(T.FLOAT_TYPE, 'doubleVal', (v) => v as number);
    case DuckDBTypeId.DOUBLE:
      return column(T.DOUBLE_TYPE, 'doubleVal', (v) => v as number);
    case DuckDBTypeId.DECIMAL:
      return {
        ...column(T.DECIMAL_TYPE, 'stringVal', (v) => String(v)),
        precision: type.width,
        scale: type.scale,
      };
    case DuckDBTypeId.VARCHAR:
      return column(T.STRING_TYPE, 'stringVal', (v) => v as string);
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_TZ:
      return column(T.TIMESTAMP_TYPE, 'stringVal', (v) =>
        formatMicros((v as DuckDBTimestampValue | DuckDBTimestampTZValue).micros),
      );
    case DuckDBTypeId.TIMESTAMP_S:
      return column(T.TIMESTAMP_TYPE, 'stringVal', (v) =>
        formatMicros((v as DuckDBTimestampSecondsValue).seconds * 1_000_000n),
      );
    case DuckDBTypeId.TIMESTAMP_MS:
      return column(T.TIMESTAMP_TYPE, 'stringVal', (v) =>
        formatMicros((v as DuckDBTimestampMillisecondsValue).millis * 1000n),
      );
    case DuckDBTypeId.TIMESTAMP_NS:
      return column(T.TIMESTAMP_TYPE, 'stringVal', (v) =>
        formatMicros(floorDiv((v as DuckDBTimestampNanosecondsValue).nanos, 1000n)),
      );
    case DuckDBTypeId.DATE:
      return column(T.DATE_TYPE, 'stringVal', (v) => formatDate((v as DuckDBDateValue).days));
    case DuckDBTypeId.SQLNULL:
      return column(T.NULL_TYPE, 'stringVal', (v) => String(v));
    default:
      return column(T.STRING_TYPE, 'stringVal', (v) => String(v));
  }
}

/** The TColumnDesc list of TGetResultSetMetadataResp.schema (positions are 1-based). */
export function tableSchema(columns: ResultColumn[]): TTypes.TTableSchema {
  return {
    columns: columns.map((c, i) => ({
      columnName: c.name,
      position: i + 1,
      typeDesc: {
        types: [
          {
            primitiveEntry: {
              type: c.typeId,
              ...(c.precision !== undefined && c.scale !== undefined
                ? {
                    typeQualifiers: {
                      qualifiers: { precision: { i32Value: c.precision }, scale: { i32Value: c.scale } },
                    },
                  }
                : {}),
            },
          },
        ],
      },
    })),
  } as TTypes.TTableSchema;
}

const PLACEHOLDER: Record<ColumnKind, unknown> = {
  boolVal: false,
  byteVal: 0,
  i16Val: 0,
  i32Val: 0,
  i64Val: 0,
  doubleVal: 0,
  stringVal: '',
};

/** Rows [start, end) of materialized columns as a column-based TRowSet. */
export function rowSet(
  columns: ResultColumn[],
  data: DuckDBValue[][],
  start: number,
  end: number,
): TTypes.TRowSet {
  const count = Math.max(0, end - start);
  const tColumns = columns.map((c, j) => {
    const values: unknown[] = new Array(count);
    const nulls = Buffer.alloc(Math.ceil(count / 8));
    const source = data[j] ?? [];
    for (let i = 0; i < count; i++) {
      const value = source[start + i] ?? null;
      if (value === null) {
        values[i] = c.kind === 'i64Val' ? new thrift.Int64(0) : PLACEHOLDER[c.kind];
        nulls[i >> 3] = (nulls[i >> 3] as number) | (1 << (i & 7));
      } else {
        values[i] = c.encode(value);
      }
    }
    return { [c.kind]: { values, nulls } };
  });
  return {
    startRowOffset: new thrift.Int64(start),
    rows: [],
    columns: tColumns,
    columnCount: columns.length,
  } as unknown as TTypes.TRowSet;
}

export function toInt64(value: bigint, column = 'value'): Int64 {
  if (value < INT64_MIN || value > INT64_MAX) {
    throw new Error(`${column}: ${value} does not fit in a BIGINT`);
  }
  const buffer = Buffer.alloc(8);
  buffer.writeBigInt64BE(value);
  return new thrift.Int64(buffer);
}

/** Spark's Hive string form of a timestamp, in UTC: fractional seconds without trailing zeros. */
export function formatMicros(micros: bigint): string {
  const seconds = floorDiv(micros, 1_000_000n);
  const fraction = micros - seconds * 1_000_000n;
  const iso = new Date(Number(seconds) * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
  const base = `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
  if (fraction === 0n) return base;
  return `${base}.${fraction.toString().padStart(6, '0').replace(/0+$/, '')}`;
}

function formatDate(days: number): string {
  return new Date(days * 86_400_000).toISOString().slice(0, 10);
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}
