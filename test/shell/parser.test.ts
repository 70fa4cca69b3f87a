import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Script, SimpleCommand, Word } from '../../src/shell/ast.ts';
import { parseNext } from '../../src/shell/parser.ts';

function ok(src: string): Script {
  const r = parseNext(src);
  assert.equal(r.kind, 'ok', `${src}: ${JSON.stringify(r)}`);
  return (r as { list: Script }).list;
}

/** A word's literal text, parameters shown as $NAME. */
function wordText(w: Word): string {
  return w
    .map((p) =>
      'text' in p
        ? p.text
        : 'param' in p
          ? `$${p.param}`
          : 'glob' in p
            ? p.glob
            : 'brace' in p
              ? p.brace
              : 'tilde' in p
                ? '~'
                : '$(…)',
    )
    .join('');
}

function simple(src: string): SimpleCommand {
  const l = ok(src);
  assert.equal(l.length, 1);
  const c = l[0]!.items[0]!.pipeline.commands[0]!;
  assert.equal(c.type, 'simple');
  return c;
}

/** Words of the single simple command in `src`. */
function words(src: string): string[] {
  return simple(src).words.map(wordText);
}

test('words, quotes and escapes', () => {
  assert.deepEqual(words('echo a  b\tc'), ['echo', 'a', 'b', 'c']);
  assert.deepEqual(words(`echo 'a b' "c d" e\\ f`), ['echo', 'a b', 'c d', 'e f']);
  assert.deepEqual(words(`echo "it's" 'say "hi"'`), ['echo', "it's", 'say "hi"']);
  assert.deepEqual(words('echo "a\\"b" "\\n" \'\\n\''), ['echo', 'a"b', '\\n', '\\n']);
  assert.deepEqual(words('echo ""'), ['echo', '']);
  assert.deepEqual(words('echo a\'b\'"c"d'), ['echo', 'abcd']);
  assert.deepEqual(words('echo a#b # comment'), ['echo', 'a#b']);
  assert.deepEqual(words("echo $'a\\tb\\x41'"), ['echo', 'a\tbA']);
  // Backslash-newline disappears anywhere outside single quotes, even inside a word.
  assert.deepEqual(words('ec\\\nho a\\\nb "c\\\nd"'), ['echo', 'ab', 'cd']);
});

test('parameters, substitutions and assignments', () => {
  const w = simple('echo $? "$X" \'$Y\' ${Z:-d} $(date) $((1+2))').words;
  assert.deepEqual(w[1], [{ param: '?', quoted: false }]);
  assert.deepEqual(w[2], [{ text: '' }, { param: 'X', quoted: true }]);
  assert.deepEqual(w[3], [{ text: '$Y' }]);
  assert.equal((w[4]![0] as { op: { kind: string } }).op.kind, 'default');
  assert.ok('subst' in w[5]![0]!);
  assert.deepEqual(w[6], [{ arith: [{ text: '1+2' }], quoted: false }]);
  const a = simple('X=5 Y=$X cmd');
  assert.deepEqual(
    a.assigns.map((x) => [x.name, wordText(x.value)]),
    [
      ['X', '5'],
      ['Y', '$X'],
    ],
  );
  assert.deepEqual(a.words.map(wordText), ['cmd']);
  // After the command name, NAME=value is an ordinary word.
  assert.deepEqual(words('echo X=5'), ['echo', 'X=5']);
});

test('tilde only at the start of an unquoted word', () => {
  const c = simple("cp a ~/x '~' a~");
  assert.deepEqual(c.words[2], [{ tilde: true }, { text: '/x' }]);
  assert.deepEqual(c.words[3], [{ text: '~' }]);
  assert.deepEqual(c.words[4], [{ text: 'a~' }]);
});

test('redirections', () => {
  const c = simple('echo 1 > /f >>g 2>/dev/null 2>&1 <in <<<here &>both');
  assert.deepEqual(c.words.map(wordText), ['echo', '1']);
  assert.deepEqual(
    c.redirects.map((r) => [r.fd, r.op, wordText(r.target)]),
    [
      [1, '>', '/f'],
      [1, '>>', 'g'],
      [2, '>', '/dev/null'],
      [2, '>&', '1'],
      [0, '<', 'in'],
      [0, '<<<', 'here'],
      [1, '>', 'both'],
      [2, '>&', '1'],
    ],
  );
  // The usage document's form: no space between > and the path is the same.
  const d = simple('echo 1>/x');
  assert.deepEqual(d.words.map(wordText), ['echo']);
  assert.deepEqual(d.redirects[0]!.fd, 1);
});

test('lists, && / ||, pipes, compound commands', () => {
  const r = parseNext('a; b && c || d | e\nf');
  assert.equal(r.kind, 'ok');
  const l = (r as { list: Script }).list;
  // One complete command per line.
  assert.equal(l.length, 2);
  assert.deepEqual(
    l[1]!.items.map((i) => [i.op, i.pipeline.commands.length]),
    [
      [null, 1],
      ['&&', 1],
      ['||', 2],
    ],
  );
  assert.equal(l[1]!.text, 'b && c || d | e');
  assert.equal(parseNext('\n\n a \n\n').kind, 'ok');
  assert.equal(parseNext('').kind, 'eof');
  assert.equal(parseNext('   # only a comment').kind, 'eof');
  const types = (src: string): string[] => ok(src).map((x) => x.items[0]!.pipeline.commands[0]!.type);
  assert.deepEqual(types('if a; then b; elif c; then d; else e; fi'), ['if']);
  assert.deepEqual(types('for i in 1 2; do :; done'), ['for']);
  assert.deepEqual(types('for ((i=0;i<2;i++)); do :; done'), ['arithfor']);
  assert.deepEqual(types('while a; do b; done'), ['while']);
  assert.deepEqual(types('case x in a|b) c;; *) d;; esac'), ['case']);
  assert.deepEqual(types('{ a; b; }'), ['group']);
  assert.deepEqual(types('(a; b)'), ['group']);
  assert.deepEqual(types('((1+2))'), ['arith']);
  assert.equal(ok('! a | b')[0]!.items[0]!.pipeline.bang, true);
});

test('incomplete input asks for more', () => {
  for (const s of [
    "echo 'abc",
    'echo "abc',
    'echo a \\\n',
    'echo a |',
    'a &&',
    'b ||',
    'if true',
    'for i in 1; do',
    'echo $(',
    '{ a',
  ]) {
    assert.equal(parseNext(s, 0, { final: false }).kind, 'incomplete', s);
  }
  assert.equal(parseNext("echo 'a\nb'").kind, 'ok');
  assert.equal(parseNext('a &&\nb').kind, 'ok');
});

test('syntax errors and unsupported constructs are named', () => {
  const cases: [string, string][] = [
    ['echo >', "syntax error near unexpected token `newline'"],
    ['; a', "syntax error near unexpected token `;'"],
    ['&& a', "syntax error near unexpected token `&&'"],
    ['a ;; b', "syntax error near unexpected token `;;'"],
    ['a | | b', "syntax error near unexpected token `|'"],
    ['echo > > x', "syntax error near unexpected token `>'"],
    ['fi', "syntax error near unexpected token `fi'"],
    ['if true; fi', "syntax error near unexpected token `fi'"],
    ['while true; do done', "syntax error near unexpected token `done'"],
    ['echo a &', "background jobs (`&'): not supported by kho's shell"],
    ['cat <<EOF', "here-documents (<<): not supported by kho's shell"],
    ['f() { :; }', "`f ()': function definitions: not supported by kho's shell"],
    ['x=(1 2)', "arrays (x=(…)): not supported by kho's shell"],
    ['echo ${x/a/b}', "`${x/a/b}' (pattern substitution): not supported by kho's shell"],
    ['[[ -e x ]]', "`[[ … ]]' conditional commands (use [ … ]): not supported by kho's shell"],
    ['diff <(a) b', "process substitution <(…): not supported by kho's shell"],
    ['echo hi 3>x', "file descriptor 3: not supported by kho's shell (only 0, 1 and 2)"],
    ['echo ${x!}', '${x!}: bad substitution'],
  ];
  for (const [src, msg] of cases) {
    const r = parseNext(src);
    assert.equal(r.kind, 'error', src);
    assert.equal((r as { error: Error }).error.message, msg, src);
  }
});

test('parsing is linear: 40,000 continuation lines and a long line', () => {
  const long = `echo ${Array.from({ length: 40000 }, (_, i) => `a${i} \\\n`).join('')}end\n`;
  const r = parseNext(long);
  assert.equal(r.kind, 'ok');
  const c = (r as { list: Script }).list[0]!.items[0]!.pipeline.commands[0] as SimpleCommand;
  assert.equal(c.words.length, 40002);
});

test('property: any single-quoted word round-trips', () => {
  fc.assert(
    fc.property(
      fc.string().filter((s) => !s.includes("'")),
      (s) => {
        assert.deepEqual(words(`echo '${s}'`), ['echo', s]);
      },
    ),
    { numRuns: Number(process.env['FUZZ_RUNS'] ?? 200) },
  );
});

test('property: the parser never throws', () => {
  fc.assert(
    fc.property(
      fc.string({
        unit: fc.constantFrom(
          'a',
          ' ',
          "'",
          '"',
          '\\',
          '$',
          '?',
          '>',
          '<',
          '|',
          '&',
          ';',
          '#',
          '\n',
          '2',
          '~',
          '{',
          '}',
          '(',
          ')',
          '`',
          'if ',
          'then ',
          'fi ',
          'do ',
          'done ',
          'for ',
          'in ',
          'case ',
          'esac ',
          '*',
          '[',
          ']',
          '=',
          ',',
          '.',
          '-',
          ':',
        ),
      }),
      (s) => {
        for (const final of [true, false]) {
          const r = parseNext(s, 0, { final });
          assert.ok(['ok', 'eof', 'incomplete', 'error'].includes(r.kind));
        }
      },
    ),
    { numRuns: Number(process.env['FUZZ_RUNS'] ?? 500) },
  );
});

test('unquoted * ? [ are glob parts, { , } brace parts; quoted ones are text', () => {
  const w = simple(`ls a*b '*' "?" \\* [ab] {x,y}`).words;
  assert.deepEqual(w[1], [{ text: 'a' }, { glob: '*' }, { text: 'b' }]);
  assert.deepEqual(w[2], [{ text: '*' }]);
  assert.deepEqual(w[3], [{ text: '?' }]);
  assert.deepEqual(w[4], [{ text: '*' }]);
  assert.deepEqual(w[5], [{ glob: '[' }, { text: 'ab]' }]);
  assert.deepEqual(w[6], [{ brace: '{' }, { text: 'x' }, { brace: ',' }, { text: 'y' }, { brace: '}' }]);
});
