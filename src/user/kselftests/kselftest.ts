/**
 * The kselftest reporting library (tools/testing/selftests/kselftest.h) for programs of the
 * machine: TAP 13 lines on stdout, the result counters, and the exit codes KSFT_PASS 0,
 * KSFT_FAIL 1, KSFT_XFAIL 2, KSFT_XPASS 3, KSFT_SKIP 4.
 */
import type { Libc } from '../libc.ts';

export const KSFT_PASS = 0;
export const KSFT_FAIL = 1;
export const KSFT_XFAIL = 2;
export const KSFT_XPASS = 3;
export const KSFT_SKIP = 4;

/** A program's kselftest state (`ksft_cnt`, `ksft_plan`) and its output calls. */
export class Kselftest {
  private readonly c: Libc;
  private plan = 0;
  private readonly cnt = { pass: 0, fail: 0, xfail: 0, xpass: 0, skip: 0, error: 0 };

  constructor(c: Libc) {
    this.c = c;
  }

  /** `ksft_test_num()`: results reported so far. */
  testNum(): number {
    const n = this.cnt;
    return n.pass + n.fail + n.xfail + n.xpass + n.skip + n.error;
  }

  /** `ksft_print_header()` (no header when KSFT_TAP_LEVEL is set: never here). */
  printHeader(): void {
    this.c.printf('TAP version 13\n');
  }

  /** `ksft_set_plan(n)`. */
  setPlan(n: number): void {
    this.plan = n;
    this.c.printf(`1..${n}\n`);
  }

  /** `ksft_print_msg()`: a `# ` diagnostic line. */
  printMsg(text: string): void {
    this.c.printf(`# ${text}`);
  }

  /** `ksft_print_cnts()`. */
  printCnts(): void {
    const n = this.cnt;
    if (this.plan !== this.testNum())
      this.c.printf(`# Planned tests != run tests (${this.plan} != ${this.testNum()})\n`);
    this.c.printf(
      `# Totals: pass:${n.pass} fail:${n.fail} xfail:${n.xfail} xpass:${n.xpass} skip:${n.skip} error:${n.error}\n`,
    );
  }

  /** `ksft_test_result_code(code, name, msg)`: one `ok`/`not ok` line. */
  testResultCode(code: number, name: string, msg: string | null): void {
    let tap = 'ok';
    let directive = '';
    switch (code) {
      case KSFT_PASS:
        this.cnt.pass++;
        break;
      case KSFT_XFAIL:
        directive = ' # XFAIL ';
        this.cnt.xfail++;
        break;
      case KSFT_XPASS:
        directive = ' # XPASS ';
        this.cnt.xpass++;
        break;
      case KSFT_SKIP:
        directive = ' # SKIP ';
        this.cnt.skip++;
        break;
      default:
        tap = 'not ok';
        this.cnt.fail++;
        break;
    }
    // kselftest.h: a message without a directive gets "#  " (TAP wants two spaces).
    if (directive === '' && msg !== null) directive = ' #  ';
    this.c.printf(`${tap} ${this.testNum()} ${name}${directive}${msg ?? ''}\n`);
  }

  /** `ksft_exit(ok)`: the totals, then exit 0 or 1. */
  exit(ok: boolean): never {
    this.printCnts();
    return this.c.exit(ok ? KSFT_PASS : KSFT_FAIL);
  }

  /** `ksft_exit_fail_msg()`: `Bail out! <msg>`, the totals, exit 1. */
  exitFailMsg(text: string): never {
    this.c.printf(`Bail out! ${text}`);
    this.printCnts();
    return this.c.exit(KSFT_FAIL);
  }

  /** `ksft_exit_skip()`: `1..0 # SKIP <msg>` before any result (else an `ok N # SKIP` line), exit 4. */
  exitSkip(text: string): never {
    if (this.plan !== 0 || this.testNum() !== 0) {
      // As kselftest.h does: counted first, then numbered one past the count.
      this.cnt.skip++;
      this.c.printf(`ok ${1 + this.testNum()} # SKIP ${text}`);
    } else this.c.printf(`1..0 # SKIP ${text}`);
    if (this.testNum() !== 0) this.printCnts();
    return this.c.exit(KSFT_SKIP);
  }
}
