/**
 * The modules the model ships (`/lib/modules/<release>`): `test_kho` (lib/test_kho.c) and the
 * memfd-like preserved file. `reserve_mem` is not a module: memblock handles it at boot
 * (src/kho/reserve-mem.ts).
 */
import { ModuleCatalog } from '../module.ts';
import { memfdModule } from './memfd.ts';
import { testKhoModule } from './test-kho.ts';

/** A catalog of every shipped module. */
export function defaultModuleCatalog(): ModuleCatalog {
  return new ModuleCatalog([testKhoModule, memfdModule]);
}
