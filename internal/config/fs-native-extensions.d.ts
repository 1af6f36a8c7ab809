// The part of fs-native-extensions (no types of its own) that the data dir lock uses.
declare module 'fs-native-extensions' {
  /** Takes an exclusive lock on the open file `fd` without waiting; false when another holder has it. */
  export function tryLock(fd: number, offset?: number, length?: number, opts?: { shared?: boolean }): boolean;
}
