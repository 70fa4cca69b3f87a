/**
 * The shell language against real bash: each script runs in kho's shell and in `bash -s`, and
 * stdout, stderr and the status must be identical (bash's `bash:` prefix read as `-bash:`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bashLike, realBash, term } from './helpers.ts';
import { BufferSink } from '../../src/shell/io.ts';
import { createSession } from '../../src/shell/machine-setup.ts';
import { runScript } from '../../src/shell/script.ts';

const SAME_AS_BASH: string[] = [
  // Variables and parameters.
  'X=5; echo $X ${X} "$X" ${Y:-dflt} ${#X}; echo $?',
  'x="a  b"; echo $x "$x"; y=; echo [$y] ["$y"]; set -- $x; echo $#',
  'echo ${x-unset} ${x:-empty}; x=; echo ${x-unset} ${x:-empty} ${x+set}; echo ${y:=new} $y',
  'f=a/b/c.txt; echo ${f##*/} ${f#*/} ${f%/*} ${f%%/*} ${f%.txt} ${#f}',
  'x=1; (x=2; echo $x); echo $x; x=3 true; echo $x; x+=4; echo $x',
  'set -- a "b c" d; echo $# $1 "$2"; for a; do echo "[$a]"; done; for a in "$@"; do echo "<$a>"; done; shift; echo $*',
  'set -- ; for a in "$@"; do echo never; done; echo "${#}"',
  'IFS=:; x=a:b::c; for i in $x; do echo "[$i]"; done',
  'echo ${zz:?oops}; echo after',
  'set -u; echo $nope; echo after',
  'unset HOME; x=1; unset x; echo "[${x-gone}]"; unset 1x',
  // Quoting and substitution.
  'echo "a\\$b" \'c$d\' $\'e\\tf\' "$(echo "nested $(echo deep)")"',
  'echo $(echo a; echo b) "$(echo c   d)"; x=$(false); echo $?',
  'x=$(printf "a\\nb\\n\\n"); echo "[$x]"; echo `echo bq`',
  'echo a{b,c}d {1..5} {a..c} {05..10..2} {x} {5..1}; echo {1..3}{a,b}',
  // Arithmetic.
  'echo $((2**10)) $((7/2)) $((-7%3)) $((1<<4 | 1)) $((x=4, x*=2, x)); ((3 > 2)) && echo gt; ((0)); echo $?',
  'i=5; echo $((i++)) $i $((++i)) $((i--)) $i',
  'echo $((1/0)); echo after',
  'echo $((1+)); echo after',
  // Control flow.
  'for i in 1 2 3; do echo "g$i"; done; for i in {1..3}; do echo $((i*2)); done',
  'i=0; while [ $i -lt 3 ]; do i=$((i+1)); echo $i; done; until false; do break; done; echo ok',
  'if [ -d /proc ]; then echo dir; elif true; then echo no; else echo no2; fi; if false; then :; fi; echo $?',
  '! false && echo neg; ! true || echo neg2; ! true; echo $?',
  'for x in 1 2; do continue; echo no; done; echo $x',
  'for i in 1 2; do for j in a b; do [ $j = b ] && continue 2; echo $i$j; done; done',
  'for i in 1 2 3; do for j in 1 2; do [ $i = 2 ] && break 2; echo $i$j; done; done; echo out',
  'for ((i=0; i<10; i+=3)); do echo $i; done; for ((;;)); do break; done; echo out',
  'for f in x.txt y.c z; do case $f in *.txt|*.md) echo text $f;; *.c) echo c $f ;; *) echo other $f; esac; done',
  'case x in (x) echo paren;; esac; case "" in "") echo empty;; esac; case ab in a?) echo q;; [xa]b) no;; esac',
  'break; continue 2; echo $?',
  'cd /proc; pwd; (cd /sys; pwd); pwd; { cd /; }; pwd',
  '(exit 4); echo $?; true | false; echo $?; false | true; echo $?',
  'exit 3; echo no',
  'true; echo $?; false; echo $?; nosuchcmd; echo $?',
  // Builtins.
  '[ 1 -eq 1 ] && echo eq; [ a = b ] || echo ne; test -n "" || echo empty; [ a',
  '[ a b ]; [ 1 -eq x ]; [ a b c d ]; [ -z ]; echo $?; [ ! -e /nonexistent ]; echo $?',
  '[ 1 -gt 2 -o 3 -gt 2 ]; echo $?; [ \\( a \\) ]; echo $?; [ a -a b -o c ]; echo $?; test; echo $?',
  '[ -f /proc/cmdline ] && echo f; [ -d /proc/cmdline ] || echo notdir; [ -c /dev/null ] && echo chr',
  'printf "%s-%d|%5s|%-5s|%05d|%x|%o|%c|%%\\n" a 42 b c 7 255 8 xyz; printf "%s\\n" a b c',
  'printf "%d\\n" abc 3x; printf "%q %b\\n" "a b" "x\\\\ty"; printf -v v "%03d" 5; echo $v',
  'read a b <<< "one two three"; echo "$a|$b"; echo x | { read -r l; echo "got $l"; }',
  'printf "l1\\nl2\\nl3" | while read l; do echo "<$l>"; done',
  'set -q; set -o nosuch; echo $?',
  'echo one \\\n two \\\n three',
  'x=1 # comment\necho $x # another\n# whole line\n',
  // Syntax errors: bash reports the line and stops.
  'echo ok\nfi\necho never',
  'echo ok\nif true; fi',
  'echo a; done',
  'echo >',
  "echo 'unterminated",
  'echo ok\necho $(\n',
  'echo ok\nfor x in a; do\n',
];

test('scripts run as bash runs them', async () => {
  const run = bashLike();
  const diffs: string[] = [];
  for (const script of SAME_AS_BASH) {
    const ours = await run(script);
    const real = realBash(script);
    if (JSON.stringify(ours) !== JSON.stringify(real))
      diffs.push(
        `${JSON.stringify(script)}\n  kho:  ${JSON.stringify(ours)}\n  bash: ${JSON.stringify(real)}`,
      );
  }
  assert.deepEqual(diffs, []);
});

test('interactive errors: no line numbers; a syntax error ends only the line', async () => {
  const t = term();
  assert.deepEqual(await t.run('echo a; fi'), {
    status: 2,
    out: '',
    err: "-bash: syntax error near unexpected token `fi'\n",
  });
  assert.deepEqual(await t.run('nosuch'), {
    status: 127,
    out: '',
    err: '-bash: nosuch: command not found\n',
  });
  assert.deepEqual(await t.run('echo ${x:?gone}; echo no'), { status: 1, out: '', err: '-bash: x: gone\n' });
  assert.equal((await t.run('X=7')).status, 0);
  assert.equal((await t.run('echo $X')).out, '7\n');
});

test('constructs bash has and kho does not are errors that name them (status 2)', async () => {
  const run = bashLike();
  const cases: [string, string][] = [
    ['echo a &', "background jobs (`&'): not supported by kho's shell"],
    ['cat <<EOF\nx\nEOF', "here-documents (<<): not supported by kho's shell"],
    ['f() { echo; }', "`f ()': function definitions: not supported by kho's shell"],
    ['function f { :; }', "function definitions: not supported by kho's shell"],
    ['a=(1 2)', "arrays (a=(…)): not supported by kho's shell"],
    ['echo ${a[0]}', "`${a[0]}' (arrays): not supported by kho's shell"],
    ['[[ -e / ]]', "`[[ … ]]' conditional commands (use [ … ]): not supported by kho's shell"],
    ['select x in a; do :; done', "`select' loops: not supported by kho's shell"],
    ['time true', "`time': not supported by kho's shell"],
    ['echo ${x/a/b}', "`${x/a/b}' (pattern substitution): not supported by kho's shell"],
    ['echo ${x:1:2}', "`${x:1:2}' (substrings): not supported by kho's shell"],
    ['echo ${x^^}', "`${x^^}' (case modification): not supported by kho's shell"],
    ['echo ${!x}', "`${!x}' (indirect expansion): not supported by kho's shell"],
    ['diff <(true) /dev/null', "process substitution <(…): not supported by kho's shell"],
    ['echo x 3>/dev/null', "file descriptor 3: not supported by kho's shell (only 0, 1 and 2)"],
    ['case a in a) echo;& esac', "`;&' (case fall-through): not supported by kho's shell"],
  ];
  for (const [script, msg] of cases) {
    assert.deepEqual(await run(`echo before\n${script}\necho after`), {
      status: 2,
      out: 'before\n',
      err: `-bash: line 2: ${msg}\n`,
    });
  }
  for (const b of ['eval', 'source', 'trap', 'local', 'declare', 'let', 'alias']) {
    assert.deepEqual(await run(`${b} x; echo $?`), {
      status: 0,
      out: '2\n',
      err: `-bash: line 1: ${b}: not supported by kho's shell\n`,
    });
  }
});

test('kho run: set -e stops at the failing line (inside loops too); set +e turns it off', async () => {
  const t = term();
  const run = async (script: string) => {
    const out = new BufferSink();
    const err = new BufferSink();
    const s = createSession(t.session.machine, t.session.boot, { stdout: out, stderr: err, home: '/tmp' });
    const r = await runScript(s, script, { quiet: true, transcript: out, errors: err, name: 's.sh' });
    return { status: r.status, out: out.text(), err: err.text() };
  };
  assert.deepEqual(await run('for i in 1 2 3; do\n  echo $i\n  [ $i -lt 2 ]\ndone\necho never\n'), {
    status: 1,
    out: '1\n2\n',
    err: "kho run: s.sh: line 3: `[ $i -lt 2 ]' failed with status 1\n",
  });
  // Conditions, && / || heads and ! do not stop a set -e script.
  assert.deepEqual(
    await run('if false; then :; fi\nwhile false; do :; done\nfalse || true\n! true\nfalse && x\necho end\n'),
    {
      status: 0,
      out: 'end\n',
      err: '',
    },
  );
  assert.deepEqual(await run('set +e\nfalse\necho still $?\n'), { status: 0, out: 'still 1\n', err: '' });
  assert.deepEqual(await run('echo a\nexit 7\necho b\n'), { status: 7, out: 'a\n', err: '' });
  assert.deepEqual(await run('echo $((1/0))\n'), {
    status: 1,
    out: '',
    err: '-bash: line 1: 1/0: division by 0 (error token is "0")\nkho run: s.sh: line 1: `echo $((1/0))\' failed with status 1\n',
  });
});

test('kho run: a for loop kexecs five times and checks each generation', async () => {
  const t = term();
  const out = new BufferSink();
  const err = new BufferSink();
  const s = createSession(t.session.machine, t.session.boot, { stdout: out, stderr: err, home: '/tmp' });
  const script = `modprobe test_kho max_mem=1048576
for gen in 1 2 3 4 5; do
  kexec -l /boot/vmlinuz --initrd /boot/initrd.img --reuse-cmdline -s && kexec -e > /dev/null
  [ -d /sys/kernel/debug/kho/in ] || { echo "generation $gen: no kho/in"; exit 1; }
  modprobe test_kho
  n=$(dmesg | grep -c "KHO restore succeeded" || true)
  echo "generation $gen: restored $n"
done
`;
  const r = await runScript(s, script, { quiet: true, transcript: out, errors: err, name: 'gens.sh' });
  assert.equal(r.status, 0, err.text());
  // lib/test_kho.c saves only when it finds no kho_test sub-tree: restores alternate with saves.
  assert.equal(out.text(), [1, 2, 3, 4, 5].map((g) => `generation ${g}: restored ${g % 2}\n`).join(''));
});
