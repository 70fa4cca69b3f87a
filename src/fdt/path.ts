/**
 * libfdt's `fdt_path_offset` rule, shared by the reader and the editor: an absolute path walks
 * children from the root; a path whose first component is not `/` names an alias in
 * `/aliases` whose (absolute) value replaces that component.
 */
import { FdtError } from './errors.ts';

/** What path resolution needs of a tree view. */
export interface PathOps {
  root(): number;
  /** The child of `offset` called `name` (libfdt's unit-address rule), or -1. */
  child(offset: number, name: string): number;
  /** The string value of property `name` of `/aliases`, or null when absent or not a string. */
  alias(name: string): string | null;
}

/** The node offset of `path`, or -1 when a component is missing; FDT_ERR_BADPATH for a relative non-alias. */
export function resolvePath(ops: PathOps, path: string): number {
  let offset = ops.root();
  let rest = path;
  if (!path.startsWith('/')) {
    const slash = path.indexOf('/');
    const target = ops.alias(slash < 0 ? path : path.slice(0, slash));
    if (target === null || !target.startsWith('/')) {
      throw new FdtError(
        'FDT_ERR_BADPATH',
        -1,
        `path ${JSON.stringify(path)} is not absolute and not an alias`,
      );
    }
    offset = resolvePath(ops, target);
    if (offset < 0) return -1;
    rest = slash < 0 ? '' : path.slice(slash);
  }
  for (const part of rest.split('/')) {
    if (part === '') continue;
    offset = ops.child(offset, part);
    if (offset < 0) return -1;
  }
  return offset;
}
