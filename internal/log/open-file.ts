import fs from 'node:fs';

/** Opens (creating if needed) a log file for reading and writing, with its size; closes it again if that fails. */
export function openReadWrite(path: string): { fd: number; size: number } {
  const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  try {
    return { fd, size: fs.fstatSync(fd).size };
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}
