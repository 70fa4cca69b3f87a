import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseLine, wordText, type CommandList } from '../../src/shell/tokenizer.ts';

function ok(src: string): CommandList {
  const r = parseLine(src);
  assert.equal(r.kind, 'ok', `${src}: ${JSON.stringify(r)}`);
  return (r as { list: CommandList }).list;
}

/** Words of the single simple command in `src`, parameters shown as $NAME. */
function words(src: string): string[] {
  const l = ok(src);
  assert.equal(l.length, 1);
  return l[0]![0]!.pipeline.commands[0]!.words.map(wordText);
}

test('words, quotes and escapes', () => {
  assert.deepEqual(words('echo a  b\tc'), ['echo', 'a', 'b', 'c']);
  assert.deepEqual(words(`echo 'a b' "c d" e\\ f`), ['echo', 'a b', 'c d', 'e f']);
  assert.deepEqual(words(`echo "it's" 'say "hi"'`), ['echo', "it's", 'say "hi"']);
  assert.deepEqual(words('echo "a\\"b" "\\n" \'\\n\''), ['echo', 'a"b', '\\n', '\\n']);
  assert.deepEqual(words('echo ""'), ['echo', '']);
  assert.deepEqual(words('echo a\'b\'"c"d'), ['echo', 'abcd']);
  assert.deepEqual(words('echo a#b # comment'), ['echo', 'a#b']);
});

test('parameters: $?, $NAME, ${NAME}, quoted and single-quoted', () => {
  assert.deepEqual(words('echo $? "$?" \'$?\' ${HOME}x $'), ['echo', '$?', '$?', '$?', '$HOMEx', '$']);
  const w = ok("echo '$?'")[0]![0]!.pipeline.commands[0]!.words[1]!;
  assert.deepEqual(w, [{ text: '$?' }]);
  const p = ok('echo $?')[0]![0]!.pipeline.commands[0]!.words[1]!;
  assert.deepEqual(p, [{ param: '?' }]);
});

test('tilde only at the start of an unquoted word', () => {
  const c = ok("cp a ~/x '~' a~")[0]![0]!.pipeline.commands[0]!;
  assert.deepEqual(c.words[2], [{ tilde: true }, { text: '/x' }]);
  assert.deepEqual(c.words[3], [{ text: '~' }]);
  assert.deepEqual(c.words[4], [{ text: 'a~' }]);
});

test('redirections', () => {
  const c = ok('echo 1 > /f >>g 2>/dev/null 2>&1 <in')[0]![0]!.pipeline.commands[0]!;
  assert.deepEqual(c.words.map(wordText), ['echo', '1']);
  assert.deepEqual(
    c.redirects.map((r) => [r.fd, r.op, wordText(r.target)]),
    [
      [1, '>', '/f'],
      [1, '>>', 'g'],
      [2, '>', '/dev/null'],
      [2, '>&', '1'],
      [0, '<', 'in'],
    ],
  );
  // The usage document's form: no space between > and the path is the same.
  const d = ok('echo 1>/x')[0]![0]!.pipeline.commands[0]!;
  assert.deepEqual(d.words.map(wordText), ['echo']);
  assert.deepEqual(d.redirects[0]!.fd, 1);
});

test('lists, && / || and pipes', () => {
  const l = ok('a; b && c || d | e\nf');
  assert.equal(l.length, 3);
  assert.deepEqual(
    l[1]!.map((i) => [i.op, i.pipeline.commands.length]),
    [
      [null, 1],
      ['&&', 1],
      ['||', 2],
    ],
  );
  assert.equal(ok('a;').length, 1);
  assert.equal(ok('\n\n a \n\n').length, 1);
  assert.equal(ok('').length, 0);
  assert.equal(ok('   # only a comment').length, 0);
});

test('incomplete input asks for more', () => {
  for (const s of ["echo 'abc", 'echo "abc', 'echo a \\', 'echo a |', 'a &&', 'b ||']) {
    assert.equal(parseLine(s).kind, 'incomplete', s);
  }
  assert.equal(parseLine("echo 'a\nb'").kind, 'ok');
  assert.equal(parseLine('a &&\nb').kind, 'ok');
});

test('syntax errors are worded as bash words them', () => {
  const cases: [string, string][] = [
    ['echo >', "syntax error near unexpected token `newline'"],
    ['; a', "syntax error near unexpected token `;'"],
    ['&& a', "syntax error near unexpected token `&&'"],
    ['a ;; b', "syntax error near unexpected token `;;'"],
    ['a | | b', "syntax error near unexpected token `|'"],
    ['echo > > x', "syntax error near unexpected token `>'"],
  ];
  for (const [src, msg] of cases) {
    const r = parseLine(src);
    assert.equal(r.kind, 'error', src);
    assert.equal((r as { message: string }).message, msg, src);
  }
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

test('property: the tokenizer never throws', () => {
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
        ),
      }),
      (s) => {
        const r = parseLine(s);
        assert.ok(['ok', 'incomplete', 'error'].includes(r.kind));
      },
    ),
    { numRuns: Number(process.env['FUZZ_RUNS'] ?? 500) },
  );
});

test('unquoted * and ? are glob parts; quoted ones are text', () => {
  const w = ok(`ls a*b '*' "?" \\*`)[0]![0]!.pipeline.commands[0]!.words;
  assert.deepEqual(w[1], [{ text: 'a' }, { glob: '*' }, { text: 'b' }]);
  assert.deepEqual(w[2], [{ text: '*' }]);
  assert.deepEqual(w[3], [{ text: '?' }]);
  assert.deepEqual(w[4], [{ text: '*' }]);
});
