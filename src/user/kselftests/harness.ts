/**
 * The kselftest harness (tools/testing/selftests/kselftest_harness.h) for programs of the
 * machine: fixtures with setup and teardown, each test run in a forked child of its own process
 * group, ASSERT_* (ends the test: teardown, then SIGABRT) and EXPECT_* (marks it failed and goes
 * on) with the harness's diagnostic lines, SKIP(), the `-l`/`-t`/`-T`/`-f`/`-F`/`-v`/`-V`/`-r`
 * filters, and the TAP report with its totals and exit status.
 */
import type { Process } from '../process.ts';
import { ExitCall, Libc } from '../libc.ts';
import { Kselftest, KSFT_FAIL, KSFT_PASS, KSFT_SKIP, KSFT_XFAIL, KSFT_XPASS } from './kselftest.ts';

/** SIGABRT: what an ASSERT failure ends the test child with. */
const SIGABRT = 6;

/** An ASSERT_* failed: the test child aborts after its teardown. */
class AssertAbort extends Error {}

/** A comparison of the harness's `__EXPECT`. */
type Op = '==' | '!=' | '<' | '<=' | '>' | '>=';

function holds(exp: number, op: Op, seen: number): boolean {
  switch (op) {
    case '==':
      return exp === seen;
    case '!=':
      return exp !== seen;
    case '<':
      return exp < seen;
    case '<=':
      return exp <= seen;
    case '>':
      return exp > seen;
    case '>=':
      return exp >= seen;
  }
}

/**
 * `_metadata` of a running test: its process (through libc) and the checks. Each check gets
 * the source line and the expressions' text for the harness's `file:line:test:` message.
 */
export class TestMetadata {
  /** The test child's C library (its process and errno). */
  readonly c: Libc;
  readonly name: string;
  exitCode = KSFT_PASS;
  /** SKIP()'s reason. */
  reason = '';
  private readonly file: string;

  constructor(c: Libc, file: string, name: string) {
    this.c = c;
    this.file = file;
    this.name = name;
  }

  private log(line: number, text: string): void {
    this.c.eprintf(`# ${this.file}:${line}:${this.name}:${text}\n`);
  }

  /** `__EXPECT`: `expected op seen`; on failure the test fails, and an ASSERT ends it. */
  check(
    line: number,
    assert: boolean,
    expStr: string,
    exp: number,
    op: Op,
    seenStr: string,
    seen: number,
  ): void {
    if (holds(exp, op, seen)) return;
    this.log(line, `Expected ${expStr} (${exp}) ${op} ${seenStr} (${seen})`);
    this.exitCode = KSFT_FAIL;
    if (assert) throw new AssertAbort();
  }

  /** `__EXPECT_STR` with `==` (ASSERT_STREQ / EXPECT_STREQ). */
  checkStreq(line: number, assert: boolean, exp: string, seen: string): void {
    if (exp === seen) return;
    this.log(line, `Expected '${exp}' == '${seen}'.`);
    this.exitCode = KSFT_FAIL;
    if (assert) throw new AssertAbort();
  }

  /** `SKIP(return, fmt…)`: the caller returns right after. */
  skip(reason: string): void {
    this.reason = reason;
    this.c.eprintf(`#      SKIP      ${reason}\n`);
    this.exitCode = KSFT_SKIP;
  }
}

/** A fixture's test: the body gets the metadata and the fixture's `self`. */
export interface HarnessTest<Self> {
  readonly name: string;
  readonly fn: (t: TestMetadata, self: Self) => void;
}

/** `FIXTURE()` with its setup, teardown and tests (in declaration order). */
export interface Fixture<Self> {
  readonly name: string;
  readonly create: () => Self;
  readonly setup: (t: TestMetadata, self: Self) => void;
  readonly teardown: (t: TestMetadata, self: Self) => void;
  readonly tests: readonly HarnessTest<Self>[];
}

const USAGE =
  'Usage: %s [-h|-l] [-t|-T|-v|-V|-f|-F|-r name]\n' +
  '\t-h       print help\n' +
  '\t-l       list all tests\n' +
  '\n' +
  '\t-t name  include test\n' +
  '\t-T name  exclude test\n' +
  '\t-v name  include variant\n' +
  '\t-V name  exclude variant\n' +
  '\t-f name  include fixture\n' +
  '\t-F name  exclude fixture\n' +
  '\t-r name  run specified test\n' +
  '\n' +
  'Test filter options can be specified multiple times. The filtering stops\n' +
  "at the first match. For example to include all tests from variant 'bla'\n" +
  "but not test 'foo' specify '-T foo -v bla'.\n";

/** getopt(argc, argv, "hlF:f:V:v:t:T:r:"): the options in order, or an error text for the first bad one. */
function parseOptions(argv: readonly string[]): { opts: [string, string][] } | { bad: string; prog: string } {
  const withArg = 'FfVvtTr';
  const opts: [string, string][] = [];
  const prog = argv[0] ?? '';
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (!a.startsWith('-') || a === '-') continue; // GNU getopt permutes operands away
    for (let j = 1; j < a.length; j++) {
      const ch = a[j]!;
      if (ch === 'h' || ch === 'l') {
        opts.push([ch, '']);
        continue;
      }
      if (!withArg.includes(ch)) return { bad: `${prog}: invalid option -- '${ch}'\n`, prog };
      const rest = a.slice(j + 1);
      if (rest !== '') opts.push([ch, rest]);
      else if (i + 1 < argv.length) opts.push([ch, argv[++i]!]);
      else return { bad: `${prog}: option requires an argument -- '${ch}'\n`, prog };
      break;
    }
  }
  return { opts };
}

/** kselftest_harness.h `test_enabled()`: the first matching filter decides; no positive filter means all. */
function testEnabled(opts: readonly [string, string][], fixture: string, test: string): boolean {
  let positive = false;
  for (const [opt, arg] of opts) {
    const lower = opt === opt.toLowerCase();
    if (opt === 'h' || opt === 'l') continue;
    positive ||= lower;
    switch (opt.toLowerCase()) {
      case 't':
        if (test === arg) return lower;
        break;
      case 'f':
        if (fixture === arg) return lower;
        break;
      case 'v':
        if (arg === '') return lower; // the only variant is the unnamed one
        break;
      case 'r':
        if (arg === `${fixture}.${test}`) return lower;
        break;
    }
  }
  return !positive;
}

/** What happened to a test child. */
type ChildEnd = { kind: 'exit'; status: number } | { kind: 'signal'; sig: number };

/** Run one test in a forked child (`__run_test`) and report it. */
function runTest<Self>(
  c: Libc,
  ksft: Kselftest,
  file: string,
  f: Fixture<Self>,
  test: HarnessTest<Self>,
): boolean {
  const name = `${f.name}.${test.name}`;
  ksft.printMsg(` RUN           ${name} ...\n`);
  let exitCode: number;
  let reason = '';
  const child = c.fork();
  if (child === null) {
    ksft.printMsg('ERROR SPAWNING TEST CHILD\n');
    exitCode = KSFT_FAIL;
  } else {
    const end = runChild(child, file, f, test);
    reason = end.reason;
    c.proc.waitpid(child.pid);
    exitCode = waitForTest(c, test.name, end.end);
  }
  const passed = exitCode !== KSFT_FAIL && exitCode <= KSFT_SKIP;
  ksft.printMsg(`         ${(passed ? 'OK' : 'FAIL').padStart(4)}  ${name}\n`);
  const diagnostic =
    reason !== '' ? reason : exitCode === KSFT_PASS || exitCode === KSFT_FAIL ? null : 'unknown';
  ksft.testResultCode(exitCode, name, diagnostic);
  return passed;
}

/** The child's side: setpgrp, setup, the body, teardown, `_exit(exit_code)`; the parent reaps it. */
function runChild<Self>(
  child: Process,
  file: string,
  f: Fixture<Self>,
  test: HarnessTest<Self>,
): { end: ChildEnd; reason: string } {
  child.pgid = child.pid; // setpgrp()
  const t = new TestMetadata(new Libc(child), file, test.name);
  const self = f.create();
  let end: ChildEnd;
  try {
    f.setup(t, self);
    test.fn(t, self);
    f.teardown(t, self);
    end = { kind: 'exit', status: t.exitCode };
  } catch (e) {
    if (e instanceof AssertAbort) {
      // __bail(): teardown, then abort().
      f.teardown(t, self);
      end = { kind: 'signal', sig: SIGABRT };
    } else if (e instanceof ExitCall) end = { kind: 'exit', status: e.status };
    else throw e;
  }
  if (child.state === 'running') child.exit(end.kind === 'exit' ? end.status : 128 + end.sig);
  return { end, reason: t.reason };
}

/** `__wait_for_test()`: the child's end as a kselftest code, with the harness's lines for failures. */
function waitForTest(c: Libc, test: string, end: ChildEnd): number {
  if (end.kind === 'signal') {
    c.eprintf(
      end.sig === SIGABRT
        ? `# ${test}: Test terminated by assertion\n`
        : `# ${test}: Test terminated unexpectedly by signal ${end.sig}\n`,
    );
    return KSFT_FAIL;
  }
  if (end.status === KSFT_SKIP || end.status === KSFT_XPASS || end.status === KSFT_XFAIL) return end.status;
  if (end.status === KSFT_PASS) return KSFT_PASS;
  c.eprintf(`# ${test}: Test failed\n`);
  return KSFT_FAIL;
}

/**
 * `TEST_HARNESS_MAIN` for `fixtures` of source file `file` (its name is in the diagnostics):
 * the program's exit status.
 */
export function testHarnessMain<Self>(
  c: Libc,
  argv: readonly string[],
  file: string,
  fixture: Fixture<Self>,
): number {
  const fixtures = [fixture];
  const parsed = parseOptions(argv);
  if ('bad' in parsed) {
    c.eprintf(parsed.bad);
    c.eprintf(USAGE.replace('%s', parsed.prog));
    return KSFT_FAIL;
  }
  for (const [opt] of parsed.opts) {
    if (opt === 'l') {
      listTests(c, fixture);
      return KSFT_SKIP;
    }
    if (opt === 'h') {
      c.eprintf(USAGE.replace('%s', argv[0] ?? ''));
      return KSFT_SKIP;
    }
  }
  const ksft = new Kselftest(c);
  let testCount = 0;
  let caseCount = 0;
  for (const f of fixtures) {
    const n = f.tests.filter((t) => testEnabled(parsed.opts, f.name, t.name)).length;
    testCount += n;
    if (n > 0) caseCount++;
  }
  ksft.printHeader();
  ksft.setPlan(testCount);
  ksft.printMsg(`Starting ${testCount} tests from ${caseCount} test cases.\n`);
  let count = 0;
  let passCount = 0;
  for (const f of fixtures) {
    for (const t of f.tests) {
      if (!testEnabled(parsed.opts, f.name, t.name)) continue;
      count++;
      if (runTest(c, ksft, file, f, t)) passCount++;
    }
  }
  const ok = passCount === count;
  ksft.printMsg(`${ok ? 'PASSED' : 'FAILED'}: ${passCount} / ${count} tests passed.\n`);
  return ksft.exit(ok);
}

/**
 * `-l`: fixtures and tests on stderr, as `test_harness_list_tests()` prints them (the harness's
 * own empty `global` fixture first).
 */
function listTests<Self>(c: Libc, f: Fixture<Self>): void {
  const row = (a: string, b: string, t: string): void => {
    c.eprintf(`${a.padEnd(20)} ${b.padEnd(25)} ${t}\n`);
  };
  row('# FIXTURE', 'VARIANT', 'TEST');
  row('global', '', '');
  c.eprintf(`${'-'.repeat(80)}\n`);
  f.tests.forEach((t, j) => {
    row(j === 0 ? f.name : '', '', t.name);
  });
}
