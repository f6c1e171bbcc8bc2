/** Machine-readable reason for a {@link ScheduleFreeError}. */
export type ScheduleFreeErrorCode =
  | 'INVALID_OPTION'
  | 'INVALID_PARAMS'
  | 'UNKNOWN_PARAM'
  | 'MISSING_GRAD'
  | 'SHAPE_MISMATCH'
  | 'DTYPE_MISMATCH'
  | 'NON_FINITE_GRAD'
  | 'INVALID_LOSS'
  | 'WRONG_MODE'
  | 'STATE_MISMATCH'
  | 'DISPOSED'
  | 'UNSUPPORTED';

/**
 * Every error this library throws on bad input. The message names the offending parameter and says
 * how to fix it; `code` is stable for programmatic handling. When one is thrown, no parameter,
 * state buffer or counter has been changed.
 */
export class ScheduleFreeError extends Error {
  readonly code: ScheduleFreeErrorCode;

  constructor(code: ScheduleFreeErrorCode, message: string) {
    super(message);
    this.name = 'ScheduleFreeError';
    this.code = code;
  }
}

/** Throws a {@link ScheduleFreeError} unless `condition` holds. */
export function check(
  condition: unknown,
  code: ScheduleFreeErrorCode,
  message: () => string,
): asserts condition {
  if (!condition) throw new ScheduleFreeError(code, message());
}
