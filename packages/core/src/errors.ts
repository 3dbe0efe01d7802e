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
