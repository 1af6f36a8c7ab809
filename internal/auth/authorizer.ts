// Who may do what to which topic. The server asks an Authorizer before every produce and consume; Casbin
// (casbin-authorizer.ts) decides from policy files, and tests can plug in any other implementation.

export type Action = 'produce' | 'consume';

export const ACTIONS: readonly Action[] = ['produce', 'consume'];

export interface Authorizer {
  /** Whether `subject` may perform `action` on `topic`. */
  can(subject: string, topic: string, action: Action): Promise<boolean>;
  /** Resolves when allowed; rejects with PermissionDeniedError otherwise. */
  authorize(subject: string, topic: string, action: Action): Promise<void>;
}

export class PermissionDeniedError extends Error {
  override readonly name = 'PermissionDeniedError';
  readonly code = 'PERMISSION_DENIED';

  constructor(
    readonly subject: string,
    readonly topic: string,
    readonly action: Action,
  ) {
    super(`${JSON.stringify(subject)} is not permitted to ${action} topic ${JSON.stringify(topic)}`);
  }
}

/** The policy could not be loaded: a missing or malformed model or policy file. */
export class PolicyLoadError extends Error {
  override readonly name = 'PolicyLoadError';
  readonly code = 'POLICY_LOAD';

  constructor(
    readonly file: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`cannot load access-control file ${file}: ${detail}`, options);
  }
}
