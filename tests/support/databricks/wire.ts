import type { ApiReply } from './core.js';

/**
 * Holds the emulator's answers to Databricks' own wire models, the types `@databricks/sdk-experimental`
 * generates from Databricks' OpenAPI specification. TypeScript's assignability lets unknown fields
 * through (and a `Record<string, unknown>` passes for any all-optional interface), so
 * `UnknownFields<T, S>` lists, as paths, every field of T that the model S does not have, nested
 * objects and lists included; `never` means T speaks S's vocabulary only.
 */
type Primitive = string | number | boolean | bigint | symbol | null | undefined;

export type UnknownFields<T, S, P extends string = '', D extends unknown[] = []> = unknown extends S
  ? never
  : T extends Primitive
    ? never
    : [T, S] extends [S, T]
      ? never // S itself (e.g. echoed JobSettings): nothing to find, and recursive models stay finite
      : D['length'] extends 10
        ? never // deep enough for any body here; keeps tsc's instantiation depth bounded
        : T extends readonly (infer E)[]
          ? NonNullable<S> extends readonly (infer F)[]
            ? UnknownFields<E, F, `${P}[]`, [...D, 0]>
            : `${P} (a list where the model has none)`
          : {
              [K in keyof T & string]-?: K extends keyof NonNullable<S>
                ? UnknownFields<T[K], NonNullable<S>[K], `${P}.${K}`, [...D, 0]>
                : `${P}.${K}`;
            }[keyof T & string];

/** T as it is when it is assignable to S and has no field S lacks; else a type naming the strays. */
export type Wire<T, S> = [UnknownFields<T, S>] extends [never]
  ? T
  : { 'fields the model lacks': UnknownFields<T, S> };

/** `answer<jobs.ListJobsResponse>()({ … })`: a 200 whose body tsc holds to the SDK's model. */
export const answer =
  <S>() =>
  <T extends S>(json: T & Wire<T, S>): ApiReply => ({ status: 200, json });

/** The same check for a value that is not answered directly (returns it unchanged). */
export const wire =
  <S>() =>
  <T extends S>(value: T & Wire<T, S>): T =>
    value;
