/**
 * kexec-tools' `kexec`: `-l IMAGE` loads (with `--initrd=`, `--append=`/`--command-line=`,
 * `--reuse-cmdline`), `-s` uses kexec_file_load (the only loader that carries KHO data), `-c`
 * the legacy kexec_load (the default here, as in kexec-tools before `-a` became the default;
 * it warns that KHO data is not carried), `-a` tries the file loader then falls back,
 * `-p` loads a crash kernel, `-u` unloads, `-e` jumps, `-S` reports the load status. Messages
 * and exit statuses are kexec-tools' (`Nothing has been loaded!`, `Cannot open ...`).
 */
import type { CommandContext, ShellCommand } from '../command.ts';
import { KexecError, strerror as kexecStrerror } from '../../kexec/errors.ts';
import {
  kexecFileLoad,
  kexecUnload,
  loadedCrashImage,
  loadedImage,
  type FileLoadOptions,
} from '../../kexec/file-load.ts';
import { kexecLegacyLoad } from '../../kexec/legacy-load.ts';
import { FsError, strerror } from '../io.ts';
import { writeErrorCode } from '../vfs.ts';
import { afterBoot } from './reboot.ts';
import { LINUX_REBOOT_CMD_KEXEC } from '../../abi/uapi-fcntl.ts';
import { strerror as errnoText } from '../../util/errno.ts';
import { userspace } from '../../user/userspace.ts';
import { forkFailure } from '../../user/programs.ts';

const USAGE =
  'kexec-tools 2.0.26 (simulated)\n' +
  'Usage: kexec [OPTION]... [kernel]\n' +
  'Directly reboot into a new kernel\n\n' +
  ' -h, --help           Print this help.\n' +
  ' -v, --version        Print the version of kexec.\n' +
  ' -f, --force          Force an immediate kexec,\n' +
  "                      don't call shutdown.\n" +
  ' -l, --load           Load the new kernel into the\n' +
  '                      current kernel.\n' +
  ' -p, --load-panic     Load the new kernel for use on panic.\n' +
  ' -u, --unload         Unload the current kexec target kernel.\n' +
  '                      If capture kernel is being unloaded\n' +
  '                      specify -p with -u.\n' +
  ' -e, --exec           Execute a currently loaded kernel.\n' +
  ' -s, --kexec-file-syscall Use file based syscall for kexec operation\n' +
  ' -c, --kexec-syscall  Use the kexec_load syscall for for compatibility\n' +
  "                      with systems that don't support -s (default here)\n" +
  ' -a, --kexec-syscall-auto  Use file based syscall for kexec and fall\n' +
  '                      back to the compatibility syscall when file based\n' +
  '                      syscall is not supported or the kernel did not\n' +
  '                      understand the image\n' +
  ' -S, --status         Return 1 if the type (by default crash) is loaded,\n' +
  '                      0 if not.\n\n' +
  'Supported kernel file types and options: \n' +
  'bzImage64\n' +
  '    --command-line=STRING Set the kernel command line to STRING.\n' +
  '    --append=STRING       Set the kernel command line to STRING.\n' +
  '    --reuse-cmdline       Use kernel command line from running system.\n' +
  "    --initrd=FILE         Use FILE as the kernel's initial ramdisk.\n" +
  "    --ramdisk=FILE        Use FILE as the kernel's initial ramdisk.\n\n";

/** Long options: name → [short key, takes an argument]. */
const LONG: Record<string, [string, boolean]> = {
  help: ['h', false],
  version: ['v', false],
  force: ['f', false],
  'no-ifdown': ['x', false],
  'no-sync': ['y', false],
  load: ['l', false],
  'load-panic': ['p', false],
  unload: ['u', false],
  exec: ['e', false],
  'kexec-file-syscall': ['s', false],
  'kexec-syscall': ['c', false],
  'kexec-syscall-auto': ['a', false],
  debug: ['d', false],
  status: ['S', false],
  type: ['t', true],
  'command-line': ['append', true],
  append: ['append', true],
  'reuse-cmdline': ['reuse', false],
  initrd: ['initrd', true],
  ramdisk: ['initrd', true],
};
const SHORT_FLAGS = 'hvfxylpuescadS';

interface KexecArgs {
  flags: Set<string>;
  append: string | null;
  initrd: string | null;
  operands: string[];
}

/** getopt_long with permutation and unique long prefixes; a string is the error line. */
function parseKexecArgs(args: readonly string[]): KexecArgs | string {
  const out: KexecArgs = { flags: new Set(), append: null, initrd: null, operands: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      out.operands.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const exact = LONG[name];
      const matches = exact !== undefined ? [name] : Object.keys(LONG).filter((k) => k.startsWith(name));
      const distinct = new Set(matches.map((m) => LONG[m]![0]));
      if (matches.length === 0 || name === '') return `kexec: unrecognized option '${a}'`;
      if (distinct.size > 1) return `kexec: option '${a}' is ambiguous`;
      const [key, hasArg] = LONG[matches[0]!]!;
      let value: string | null = null;
      if (hasArg) {
        if (eq >= 0) value = a.slice(eq + 1);
        else {
          const v = args[i + 1];
          if (v === undefined) return `kexec: option '--${matches[0]!}' requires an argument`;
          value = v;
          i++;
        }
      } else if (eq >= 0) return `kexec: option '--${matches[0]!}' doesn't allow an argument`;
      if (key === 'append') out.append = value;
      else if (key === 'initrd') out.initrd = value;
      else if (key === 'reuse') out.flags.add('reuse');
      else if (key !== 't') out.flags.add(key);
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j]!;
        if (c === 't') {
          if (j + 1 < a.length) break;
          if (args[i + 1] === undefined) return "kexec: option requires an argument -- 't'";
          i++;
          break;
        }
        if (!SHORT_FLAGS.includes(c)) return `kexec: invalid option -- '${c}'`;
        out.flags.add(c);
      }
      continue;
    }
    out.operands.push(a);
  }
  return out;
}

/** Read a file for the loader; kexec-tools dies with `Cannot open `NAME': reason`. */
function slurp(ctx: CommandContext, name: string): Uint8Array | null {
  let node;
  try {
    node = ctx.session.lookup(name);
  } catch (err) {
    ctx.stderr.write(`Cannot open \`${name}': ${strerror(err instanceof FsError ? err.code : 'EIO')}\n`);
    return null;
  }
  if (node === null) {
    ctx.stderr.write(`Cannot open \`${name}': No such file or directory\n`);
    return null;
  }
  if (node.type === 'dir') {
    ctx.stderr.write(`Cannot read ${name}`);
    return null;
  }
  try {
    return node.read();
  } catch (err) {
    ctx.stderr.write(`Cannot open \`${name}': ${strerror(writeErrorCode(err) ?? 'EIO')}\n`);
    return null;
  }
}

function reportKexecError(ctx: CommandContext, err: unknown, fileSyscall: boolean): number {
  if (!(err instanceof KexecError)) throw err;
  const msg = err.message.endsWith('\n') ? err.message : `${err.message}\n`;
  ctx.stderr.write(msg);
  if (fileSyscall && err.code !== 'ENOEXEC' && !/kexec_file_load failed/.test(err.message)) {
    ctx.stderr.write(`kexec_file_load failed: ${kexecStrerror(err.code)}\n`);
  }
  return err.exitCode;
}

/** The load step; returns the exit status. */
function load(ctx: CommandContext, a: KexecArgs, crash: boolean): number {
  const kernelName = a.operands[0];
  if (kernelName === undefined) {
    ctx.stderr.write('No kernel specified\n');
    ctx.stdout.write(USAGE);
    return 255;
  }
  const image = slurp(ctx, kernelName);
  if (image === null) return 1;
  let initrd: Uint8Array | null = null;
  if (a.initrd !== null) {
    initrd = slurp(ctx, a.initrd);
    if (initrd === null) return 1;
  }
  const k = ctx.session.kernel;
  let cmdline = a.append ?? '';
  if (a.flags.has('reuse')) {
    const reused = k.cmdline
      .procCmdline()
      .replace(/\n$/, '')
      .replace(/(^|\s)BOOT_IMAGE=\S*/g, '')
      .trim();
    cmdline = a.append === null ? reused : `${reused} ${a.append}`;
  }
  const opts: FileLoadOptions = { image, imageName: kernelName, initrd, cmdline, crash };
  const mode = a.flags.has('s') ? 'file' : a.flags.has('a') ? 'auto' : 'legacy';
  try {
    let result;
    if (mode === 'legacy') result = kexecLegacyLoad(k, opts);
    else {
      try {
        result = kexecFileLoad(k, opts);
      } catch (err) {
        if (
          mode === 'auto' &&
          err instanceof KexecError &&
          (err.code === 'ENOEXEC' || err.code === 'EINVAL')
        ) {
          result = kexecLegacyLoad(k, opts);
        } else throw err;
      }
    }
    for (const w of result.warnings) ctx.stderr.write(`${w}\n`);
    if (
      result.image.kind === 'legacy' &&
      !crash &&
      k.kho.isEnabled() &&
      !result.warnings.some((w) => /KHO/.test(w))
    ) {
      ctx.stderr.write(
        'kexec_load (legacy, without -s) carries no KHO data: the next kernel will not see preserved memory\n',
      );
    }
  } catch (err) {
    return reportKexecError(ctx, err, mode !== 'legacy');
  }
  return 0;
}

/**
 * The jump, as kexec-tools' my_exec() makes it: the `kexec` process calls
 * reboot(LINUX_REBOOT_CMD_KEXEC), so LUO serializes in that task's call (kernel/kexec_core.c:
 * kernel_kexec() -> liveupdate_reboot()), and a failure comes back as errno: `kexec failed:
 * <strerror>`, exit 255. The successor boots from memory alone; the terminal logs in again.
 */
function exec(ctx: CommandContext): number {
  const s = ctx.session;
  const k = s.kernel;
  if (loadedImage(k) === null) {
    ctx.stderr.write('Nothing has been loaded!\n');
    return 1;
  }
  const u = userspace(k);
  const shell = u.login();
  const p = u.spawn(shell, ['kexec', '-e']);
  if (typeof p === 'number') {
    ctx.stderr.write(forkFailure(p));
    return 254;
  }
  p.comm = 'kexec';
  let r: number;
  try {
    r = p.reboot(LINUX_REBOOT_CMD_KEXEC);
  } finally {
    // kernel_kexec() prints this once LUO is done, just before the jump (also when the
    // successor then panics).
    if (s.machine.kernel !== k) ctx.stdout.write('kexec_core: Starting new kernel\n');
  }
  if (r !== 0) {
    ctx.stderr.write(`kexec failed: ${errnoText(-r)}\n`);
    p.exit(255);
    shell.waitpid(p.pid);
    return 255;
  }
  afterBoot(ctx);
  return 0;
}

export const kexec: ShellCommand = {
  name: 'kexec',
  usage: 'kexec [-l IMAGE [--initrd=F] [--append=S] [--reuse-cmdline] [-s]] [-e] [-u] [-p]',
  summary: 'load (-l; -s = kexec_file_load, which carries KHO) and execute (-e) a kernel',
  run(args, ctx) {
    const a = parseKexecArgs(args);
    if (typeof a === 'string') {
      ctx.stderr.write(`${a}\n`);
      ctx.stdout.write(USAGE);
      return 1;
    }
    const f = a.flags;
    if (f.has('h')) {
      ctx.stdout.write(USAGE);
      return 0;
    }
    if (f.has('v')) {
      ctx.stdout.write('kexec-tools 2.0.26 (simulated)\n');
      return 0;
    }
    // kexec-tools' option state machine: the last action option wins.
    let doLoad = true;
    let doExec = false;
    let doUnload = false;
    let doShutdown = true;
    let crash = false;
    for (const arg of args) {
      const keys = arg.startsWith('--')
        ? [LONG[arg.slice(2).split('=')[0]!]?.[0] ?? '']
        : arg.startsWith('-')
          ? arg.slice(1).split('')
          : [];
      for (const key of keys) {
        if (key === 'l') {
          doLoad = true;
          doExec = false;
          doShutdown = false;
        } else if (key === 'e') {
          doLoad = false;
          doShutdown = false;
          doExec = true;
        } else if (key === 'u') {
          doLoad = false;
          doShutdown = false;
          doUnload = true;
        } else if (key === 'p') {
          doLoad = true;
          doExec = false;
          doShutdown = false;
          crash = true;
        } else if (key === 'f') {
          doLoad = true;
          doShutdown = false;
          doExec = true;
        }
      }
    }
    const s = ctx.session;
    if (f.has('S')) {
      const loaded = crash || !f.has('l') ? loadedCrashImage(s.kernel) : loadedImage(s.kernel);
      return loaded === null ? 0 : 1;
    }
    if (doUnload) kexecUnload(s.kernel, { crash });
    if (doLoad) {
      const st = load(ctx, a, crash);
      if (st !== 0) return st;
    }
    if ((doShutdown || doExec) && loadedImage(s.kernel) === null) {
      ctx.stderr.write('Nothing has been loaded!\n');
      return 1;
    }
    if (doShutdown || doExec) return exec(ctx);
    return 0;
  },
};
