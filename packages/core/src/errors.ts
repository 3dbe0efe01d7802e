/** One error base class for the whole product: a stable machine code plus a sentence for people. */
export class LumbarError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'LumbarError';
  }
}

/** Bad input from a user or a peer: a CLI exits 2, the API answers 4xx, the receiver a DIMSE failure. */
export class InputError extends LumbarError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('BAD_INPUT', message, details);
    this.name = 'InputError';
  }
}

/** What was asked for does not exist: the API answers 404. */
export class NotFoundError extends LumbarError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('NOT_FOUND', message, details);
    this.name = 'NotFoundError';
  }
}

/** The request contradicts the current state (re-driving an export that succeeded): the API answers 409. */
export class ConflictError extends LumbarError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('CONFLICT', message, details);
    this.name = 'ConflictError';
  }
}

/** A dependency (disk, database, queue, peer) is unavailable: retry later (DIMSE 0xA700, HTTP 503). */
export class UnavailableError extends LumbarError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('UNAVAILABLE', message, details);
    this.name = 'UnavailableError';
  }
}
