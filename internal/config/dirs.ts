// Creating the folders a user names (an agent's data dir, the certificates' folder), with a failure that says what
// is wrong with the path instead of a bare "EEXIST: file already exists, mkdir".
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';

/** The path cannot be a directory the caller can use: it is a file, under a file, or not creatable here. */
export class UnusableDirError extends Error {
  override readonly name = 'UnusableDirError';
  constructor(
    readonly dir: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const REASONS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOENT: 'this file system does not allow it',
  ENAMETOOLONG: 'the name is too long',
};

/**
 * mkdir -p, ancestors included, for a directory named `what` in messages (e.g. "data dir"). Not mkdir's own
 * `recursive`: besides its bare errors, on Node 20 it never returns for a path in /proc, where mkdir fails ENOENT.
 * Throws UnusableDirError for a path that cannot be a directory; other errors (EIO, ENOSPC) as they are.
 */
export async function ensureDir(dir: string, what: string, mode?: number): Promise<void> {
  await makeDir(dir, dir, what, mode, true);
}

async function makeDir(dir: string, wanted: string, what: string, mode: number | undefined, mayCreateParent: boolean): Promise<void> {
  try {
    await mkdir(dir, mode === undefined ? {} : { mode });
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') {
      if ((await stat(dir)).isDirectory()) return;
      throw new UnusableDirError(wanted, dir === wanted ? `${what} ${wanted} is not a directory` : `${what} ${wanted} cannot be created: ${dir} is not a directory`, { cause: err });
    }
    if (code === 'ENOENT' && mayCreateParent && path.dirname(dir) !== dir) {
      await makeDir(path.dirname(dir), wanted, what, mode, true);
      await makeDir(dir, wanted, what, mode, false);
      return;
    }
    if (code === 'ENOTDIR') {
      throw new UnusableDirError(wanted, `${what} ${wanted} cannot be created: ${await fileAncestor(dir)} is not a directory`, { cause: err });
    }
    const reason = REASONS[code];
    if (reason !== undefined) throw new UnusableDirError(wanted, `${what} ${wanted} cannot be created: ${reason} (${code})`, { cause: err });
    throw err;
  }
}

/** The nearest ancestor of `dir` that exists, which ENOTDIR says is not a directory. */
async function fileAncestor(dir: string): Promise<string> {
  for (let p = path.dirname(dir); ; p = path.dirname(p)) {
    try {
      await stat(p);
      return p;
    } catch {
      if (path.dirname(p) === p) return p;
    }
  }
}
