/**
 * coreutils `cp SOURCE... DEST`: copy machine or host files to the host (the only writable
 * place). Messages as coreutils prints them.
 */
import { basename } from 'node:path';
import type { ShellCommand } from '../command.ts';
import { FsError, strerror } from '../io.ts';
import { isMachinePath, writeErrorCode } from '../vfs.ts';
import { badOption, parseFlags } from './util.ts';

export const cp: ShellCommand = {
  name: 'cp',
  usage: 'cp SOURCE... DEST',
  summary: 'copy files out of the machine to a host file or directory',
  run(args, ctx) {
    const { operands, bad } = parseFlags(args, 'f');
    if (bad !== null) return badOption(ctx, 'cp', bad);
    const s = ctx.session;
    if (operands.length === 0) {
      ctx.stderr.write("cp: missing file operand\nTry 'cp --help' for more information.\n");
      return 1;
    }
    if (operands.length === 1) {
      ctx.stderr.write(
        `cp: missing destination file operand after '${operands[0]!}'\nTry 'cp --help' for more information.\n`,
      );
      return 1;
    }
    const dest = operands[operands.length - 1]!;
    const sources = operands.slice(0, -1);
    let destNode;
    try {
      destNode = s.lookup(dest);
    } catch (err) {
      ctx.stderr.write(`cp: cannot stat '${dest}': ${strerror(err instanceof FsError ? err.code : 'EIO')}\n`);
      return 1;
    }
    const destIsDir = destNode?.type === 'dir';
    if (sources.length > 1 && !destIsDir) {
      ctx.stderr.write(`cp: target '${dest}' is not a directory\n`);
      return 1;
    }
    let status = 0;
    for (const src of sources) {
      let node;
      try {
        node = s.lookup(src);
      } catch (err) {
        ctx.stderr.write(
          `cp: cannot stat '${src}': ${strerror(err instanceof FsError ? err.code : 'EIO')}\n`,
        );
        status = 1;
        continue;
      }
      if (node === null) {
        ctx.stderr.write(`cp: cannot stat '${src}': No such file or directory\n`);
        status = 1;
        continue;
      }
      if (node.type === 'dir') {
        ctx.stderr.write(`cp: -r not specified; omitting directory '${src}'\n`);
        status = 1;
        continue;
      }
      const target = destIsDir ? `${dest.replace(/\/+$/, '')}/${basename(s.abs(src))}` : dest;
      const abs = s.abs(target);
      if (isMachinePath(abs)) {
        ctx.stderr.write(`cp: cannot create regular file '${target}': Permission denied\n`);
        status = 1;
        continue;
      }
      let data: Uint8Array;
      try {
        data = node.read();
      } catch (err) {
        ctx.stderr.write(`cp: error reading '${src}': ${strerror(writeErrorCode(err) ?? 'EIO')}\n`);
        status = 1;
        continue;
      }
      try {
        s.vfs.writeHost(abs, data);
      } catch (err) {
        ctx.stderr.write(
          `cp: cannot create regular file '${target}': ${strerror(err instanceof FsError ? err.code : 'EIO')}\n`,
        );
        status = 1;
      }
    }
    return status;
  },
};
