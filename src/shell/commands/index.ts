/** Every command of the simulated machine's terminal. */
import type { ShellCommand } from '../command.ts';
import { cd, colon, exit, falseCmd, help, pwd, trueCmd } from './builtins.ts';
import { bracket, test } from './test.ts';
import { breakCmd, continueCmd, exportCmd, read, set, shift, unset } from './variables.ts';
import { cat } from './cat.ts';
import { cp } from './cp.ts';
import { devmem } from './devmem.ts';
import { dmesg } from './dmesg.ts';
import { dtc } from './dtc.ts';
import { dumpMemory } from './dump-memory.ts';
import { echo } from './echo.ts';
import { free } from './free.ts';
import { grep } from './grep.ts';
import { head, tail } from './head.ts';
import { hexdumpCmd } from './hexdump.ts';
import { insmod } from './insmod.ts';
import { kexec } from './kexec.ts';
import { ls } from './ls.ts';
import { lsmod, modprobe, rmmod } from './modprobe.ts';
import { printf } from './printf.ts';
import { reboot } from './reboot.ts';
import { clear, sleep, uname } from './system.ts';
import { wc } from './wc.ts';

/** The command table. */
export const COMMANDS: readonly ShellCommand[] = [
  bracket,
  breakCmd,
  cat,
  clear,
  colon,
  continueCmd,
  cd,
  cp,
  devmem,
  dmesg,
  dtc,
  dumpMemory,
  echo,
  exit,
  exportCmd,
  falseCmd,
  free,
  grep,
  head,
  help,
  hexdumpCmd,
  insmod,
  kexec,
  ls,
  lsmod,
  modprobe,
  printf,
  pwd,
  read,
  reboot,
  rmmod,
  set,
  shift,
  sleep,
  tail,
  test,
  trueCmd,
  uname,
  unset,
  wc,
];
