import type { Command } from 'commander';

/** Registers `kho demo`, the main job. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run a full KHO handover story on the default simulated machine')
    .action(() => {
      process.stdout.write(
        'kho demo: the handover demo needs the simulated machine, kernel and kexec (issues 3-6),\n' +
          'which are not built yet. What works today: `kho fdt dump|check|build` on FDT blobs.\n',
      );
    });
}
