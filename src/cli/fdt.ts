import type { Command } from 'commander';

/** Registers `kho fdt dump|check|build` (filled in by the FDT tools). */
export function registerFdt(program: Command): void {
  program.command('fdt').description('read, check and build flattened devicetree blobs');
}
