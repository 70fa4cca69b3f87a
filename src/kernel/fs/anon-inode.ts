/**
 * Anonymous inode files (fs/anon_inodes.c): files with no place in any directory, such as LUO
 * session files. They all share one inode; `d_path` prints `anon_inode:<name>`.
 */
import { allocFile, type File, type FileOperations } from './file.ts';
import type { KernelFs } from './kernel-fs.ts';

/** `anon_inode_getfile(name, fops, priv, flags)`: a new file with one reference. */
export function anonInodeGetfile(
  fs: KernelFs,
  name: string,
  fops: FileOperations,
  priv: unknown,
  flags: number,
): File {
  const f = allocFile(fs.anonInode, fops, flags, name, () => `anon_inode:${name}`);
  f.privateData = priv;
  return f;
}
