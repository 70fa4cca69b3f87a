/**
 * `dump-memory FILE` (not a Linux tool): write the machine's physical memory as an ELF64 core
 * on the host (one PT_LOAD per run of pages with data in RAM) for `kho inspect`. The file is a
 * regular file inside the host directory (src/util/host-dir.ts); anywhere else is
 * `Permission denied`.
 */
import { closeSync } from 'node:fs';
import type { ShellCommand } from '../command.ts';
import { writeElfCore } from '../../inspect/elf-core.ts';
import { FsError, nodeErrCode, strerror } from '../io.ts';
import { isMachinePath } from '../vfs.ts';

export const dumpMemory: ShellCommand = {
  name: 'dump-memory',
  usage: 'dump-memory FILE',
  summary: 'write physical memory as an ELF core on the host (for kho inspect)',
  run(args, ctx) {
    const file = args[0];
    if (file === undefined || args.length > 1 || file.startsWith('-')) {
      ctx.stderr.write('Usage: dump-memory FILE\n');
      return 2;
    }
    const s = ctx.session;
    const abs = s.abs(file);
    let fd: number;
    try {
      if (isMachinePath(abs)) throw new FsError('EACCES');
      fd = s.vfs.hostDir.openWrite(abs, false);
    } catch (err) {
      ctx.stderr.write(`dump-memory: ${file}: ${strerror(err instanceof FsError ? err.code : 'EIO')}\n`);
      return 1;
    }
    try {
      const ranges = s.machine.topology.ramRanges().map((r) => ({ start: r.start, end: r.end }));
      const w = s.machine.work.start(`dump-memory ${file}`, 0, 'bytes');
      let st;
      try {
        st = writeElfCore(s.machine.mem, ranges, fd, { step: (done) => w.step(done) });
      } finally {
        closeSync(fd);
      }
      w.end(0);
      if (st.interrupted) {
        ctx.stderr.write(`dump-memory: ${file}: interrupted; the file is incomplete\n`);
        return 130;
      }
      ctx.stdout.write(
        `${file}: ELF core, ${st.segments} segments, ${st.fileBytes} bytes (${st.writtenBytes} written)\n`,
      );
    } catch (err) {
      ctx.stderr.write(
        `dump-memory: ${file}: ${strerror(err instanceof FsError ? err.code : nodeErrCode(err))}\n`,
      );
      return 1;
    }
    return 0;
  },
};
