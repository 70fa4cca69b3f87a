/**
 * The programs every machine's root file system carries (src/user/programs.ts): importing
 * this module installs them (the kernel's LUO selftests, luoctl).
 */
import './kselftests/liveupdate/install.ts';
import { LUOCTL_PATH, luoctlMain } from './luoctl/luoctl.ts';
import { registerProgram } from './programs.ts';

registerProgram(
  LUOCTL_PATH,
  luoctlMain,
  'Live Update Orchestrator sessions: create, preserve, retrieve, read, finish, list',
);
