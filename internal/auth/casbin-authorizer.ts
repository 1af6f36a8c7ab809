import { access, readFile } from 'node:fs/promises';
import { newEnforcer, newModelFromString, StringAdapter, type Enforcer } from 'casbin';
import { PermissionDeniedError, PolicyLoadError, type Action, type Authorizer } from './authorizer.js';

/** Distinct (subject, topic, action) decisions remembered; past this the memory starts over. */
const MAX_CACHED_DECISIONS = 4096;

/**
 * An Authorizer backed by a Casbin enforcer: request (subject, topic, action) against policy/model.conf.
 * The policy is fixed for the authorizer's life, so a decision never changes: it is remembered, because
 * evaluating the model costs more than the rest of a small produce (about 20 us against a map lookup). The memory
 * is bounded (an authenticated client could ask for any number of topic names); Casbin's CachedEnforcer is not.
 */
export class CasbinAuthorizer implements Authorizer {
  private readonly decisions = new Map<string, boolean>();

  private constructor(private readonly enforcer: Enforcer) {}

  /** Loads a model file and a policy file (the book's `auth.New(model, policy)`). */
  static async fromFiles(modelFile: string, policyFile: string): Promise<CasbinAuthorizer> {
    const model = await readPolicyFile(modelFile);
    const policy = await readPolicyFile(policyFile);
    return CasbinAuthorizer.fromText(model, policy, { modelFile, policyFile });
  }

  /** Builds one from model and policy text, e.g. a policy written inline by a test. */
  static async fromText(
    modelText: string,
    policyText: string,
    names: { modelFile?: string; policyFile?: string } = {},
  ): Promise<CasbinAuthorizer> {
    let model;
    try {
      model = newModelFromString(modelText);
    } catch (err) {
      throw new PolicyLoadError(names.modelFile ?? '<model text>', messageOf(err), { cause: err });
    }
    try {
      // Casbin's CSV reader has no comment syntax of its own, so comments are stripped here.
      return new CasbinAuthorizer(await newEnforcer(model, new StringAdapter(stripComments(policyText))));
    } catch (err) {
      throw new PolicyLoadError(names.policyFile ?? '<policy text>', messageOf(err), { cause: err });
    }
  }

  async can(subject: string, topic: string, action: Action): Promise<boolean> {
    // NUL cannot occur in a certificate's CN or a topic name, so the key is unambiguous.
    const key = `${subject}\0${topic}\0${action}`;
    const known = this.decisions.get(key);
    if (known !== undefined) return known;
    const decision = await this.enforcer.enforce(subject, topic, action);
    if (this.decisions.size >= MAX_CACHED_DECISIONS) this.decisions.clear();
    this.decisions.set(key, decision);
    return decision;
  }

  async authorize(subject: string, topic: string, action: Action): Promise<void> {
    if (!(await this.can(subject, topic, action))) {
      throw new PermissionDeniedError(subject, topic, action);
    }
  }
}

async function readPolicyFile(file: string): Promise<string> {
  try {
    await access(file);
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new PolicyLoadError(file, messageOf(err), { cause: err });
  }
}

function stripComments(policyText: string): string {
  return policyText
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n');
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
