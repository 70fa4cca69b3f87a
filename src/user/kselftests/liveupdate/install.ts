/**
 * The kernel's LUO selftests as installed in the machine's root file system
 * (`make -C tools/testing/selftests TARGETS=liveupdate install` puts them under
 * /usr/lib/kselftests/liveupdate/): the one-boot `liveupdate`, the four kexec tests and the
 * `do_kexec.sh` script that runs between their stages.
 * Importing this module installs them.
 */
import { registerProgram, registerScript } from '../../programs.ts';
import { DO_KEXEC_SH } from './do-kexec.ts';
import { liveupdate } from './liveupdate.ts';
import { luoKexecSimple } from './luo-kexec-simple.ts';
import { luoMultiSession } from './luo-multi-session.ts';
import { luoStressFiles } from './luo-stress-files.ts';
import { luoStressSessions } from './luo-stress-sessions.ts';

/** Where kselftest's installer puts the liveupdate target. */
export const KSELFTEST_LIVEUPDATE_DIR = '/usr/lib/kselftests/liveupdate';

const PROGRAMS = [
  ['liveupdate', liveupdate, 'LUO selftest: /dev/liveupdate, sessions and memfd preservation in one boot'],
  ['luo_kexec_simple', luoKexecSimple, 'LUO kexec selftest: one session with one memfd (-s 1|2)'],
  [
    'luo_multi_session',
    luoMultiSession,
    'LUO kexec selftest: empty sessions and sessions with memfds (-s 1|2)',
  ],
  ['luo_stress_files', luoStressFiles, 'LUO kexec selftest: 500 memfds in one session (-s 1|2)'],
  ['luo_stress_sessions', luoStressSessions, 'LUO kexec selftest: 2000 sessions (-s 1|2)'],
] as const;

for (const [name, main, summary] of PROGRAMS)
  registerProgram(`${KSELFTEST_LIVEUPDATE_DIR}/${name}`, main, summary);
registerScript(
  `${KSELFTEST_LIVEUPDATE_DIR}/do_kexec.sh`,
  DO_KEXEC_SH,
  'kexec into /boot/vmlinuz with the running command line (KHO/LUO state kept)',
);
