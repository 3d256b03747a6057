/*
 * Accountability in the types. Operations on personal data declare the headers `X-User-Id` (who
 * acts) and `X-Purpose` (why) as required parameters, so openapi-fetch asks for them in
 * `params.header` on every call. A client created with `userId` and `purpose` sends them itself:
 * its paths are the contract's with those two headers made optional (still typed, so a call may
 * override them), and `params`/`params.header` optional where nothing else is required.
 */

/** The headers a client can fill in from its options. */
export type AccountabilityHeader = 'X-User-Id' | 'X-Purpose';

/** Who acts and why, sent as `X-User-Id` and `X-Purpose`. */
export interface Accountability {
  /** The officer or citizen on whose behalf the call is made (`X-User-Id`). */
  userId: string;
  /** A procedure code such as `1.004616.000.00.00.H52` or a configured purpose code (`X-Purpose`). */
  purpose: string;
}

/** The accountability headers that options of type `O` supply for every call. */
export type SuppliedHeaders<O> =
  | (O extends { userId: string } ? 'X-User-Id' : never)
  | (O extends { purpose: string } ? 'X-Purpose' : never);

type Simplify<T> = { [K in keyof T]: T[K] };

type RequiredKeys<T> = { [K in keyof T]-?: Partial<Pick<T, K>> extends Pick<T, K> ? never : K }[keyof T];

type WithOptional<T, K extends PropertyKey> = Simplify<
  { [P in keyof T as P extends K ? never : P]: T[P] } & { [P in keyof T as P extends K ? P : never]?: T[P] }
>;

type WithHeader<P, H> = [RequiredKeys<H>] extends [never]
  ? Simplify<Omit<P, 'header'> & { header?: H }>
  : Simplify<Omit<P, 'header'> & { header: H }>;

type RelaxParameters<P, Supplied extends PropertyKey> = P extends { header: infer H extends object }
  ? WithHeader<P, WithOptional<H, Supplied>>
  : P;

type RelaxOperation<Op, Supplied extends PropertyKey> = Op extends { parameters: infer P }
  ? Simplify<Omit<Op, 'parameters'> & { parameters: RelaxParameters<P, Supplied> }>
  : Op;

/**
 * The contract's paths as seen by a client that supplies the headers `Supplied` itself: those
 * headers become optional wherever they are required; every other parameter is unchanged.
 */
export type PathsSupplying<Paths, Supplied extends AccountabilityHeader> = [Supplied] extends [never]
  ? Paths
  : { [Path in keyof Paths]: { [Method in keyof Paths[Path]]: RelaxOperation<Paths[Path][Method], Supplied> } };

/** `params.header` for one call made on behalf of someone else, or for another purpose. */
export function accountabilityHeaders({ userId, purpose }: Accountability): { 'X-User-Id': string; 'X-Purpose': string } {
  return { 'X-User-Id': userId, 'X-Purpose': purpose };
}
