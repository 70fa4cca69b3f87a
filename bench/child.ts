// Runs one benchmark entry and prints its result as one JSON line (see bench/run.ts).
import { pathToFileURL } from 'node:url';
import type { BenchEntry } from './harness.ts';
import { peakRssMiB, round } from './harness.ts';

const [file, name] = process.argv.slice(2);
if (file === undefined || name === undefined) throw new Error('usage: child.ts FILE NAME');
const mod = (await import(pathToFileURL(file).href)) as { entries: BenchEntry[] };
const entry = mod.entries.find((e) => e.name === name);
if (entry === undefined) throw new Error(`no entry ${name} in ${file}`);
const result = await entry.run();
// Whether malloc was asked for huge pages (bench/run.ts): figures differ by up to a quarter.
const hugetlb = /glibc\.malloc\.hugetlb=(\d)/.exec(process.env['GLIBC_TUNABLES'] ?? '')?.[1] ?? '0';
process.stdout.write(
  JSON.stringify({ ...result, peak_rss_mib: round(peakRssMiB(), 1), malloc_hugetlb: Number(hugetlb) }) + '\n',
);
