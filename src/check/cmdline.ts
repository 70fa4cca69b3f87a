/** The kernel command line `kho check` boots (kept apart from the engine: the supervisor needs it too). */

/** `kho=on` and `liveupdate=on` unless the command line says otherwise (LUO handlers need both). */
export function checkCmdline(cmdline: string): string {
  let c = /(^|\s)kho=/.test(cmdline) ? cmdline : `${cmdline} kho=on`.trim();
  if (!/(^|\s)liveupdate=/.test(c)) c = `${c} liveupdate=on`;
  return c;
}
