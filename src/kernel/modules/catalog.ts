/**
 * The modules the model ships (`/lib/modules/<release>`): `test_kho` (lib/test_kho.c). Memfds
 * are preserved through LUO (src/luo/memfd-luo.ts, built in); `reserve_mem` is not a module
 * either: memblock handles it at boot (src/kho/reserve-mem.ts).
 */
import { ModuleCatalog } from '../module.ts';
import { testKhoModule } from './test-kho.ts';

/** A catalog of every shipped module. */
export function defaultModuleCatalog(): ModuleCatalog {
  return new ModuleCatalog([testKhoModule]);
}
