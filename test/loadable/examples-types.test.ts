/**
 * The examples are type-checked against the published types: `import … from 'kho'` resolves,
 * as for a user of the package, through package.json `exports` to src/index.ts, and a misuse of
 * the API in a file next to them is a type error.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BAD = `${ROOT}examples/__misuse.ts`;
const BAD_SOURCE = `import { defineModule, preserveFolio } from 'kho';
export default defineModule({ name: 'misuse', init: (k) => preserveFolio(k, 42) });
`;

it('examples/*.ts type-check against the public API; a misuse does not', () => {
  const cfg = ts.getParsedCommandLineOfConfigFile(
    `${ROOT}tsconfig.json`,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) =>
        assert.fail(ts.flattenDiagnosticMessageText(d.messageText, '\n')),
    },
  )!;
  const examples = readdirSync(`${ROOT}examples`)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => `${ROOT}examples/${f}`);
  assert.ok(examples.length >= 3, examples.join(' '));
  const host = ts.createCompilerHost(cfg.options);
  const read = host.readFile.bind(host);
  const exists = host.fileExists.bind(host);
  host.readFile = (f) => (f === BAD ? BAD_SOURCE : read(f));
  host.fileExists = (f) => f === BAD || exists(f);
  const program = ts.createProgram([...examples, BAD], cfg.options, host);
  const diags = ts.getPreEmitDiagnostics(program).map((d) => ({
    file: d.file?.fileName.slice(ROOT.length) ?? '',
    text: ts.flattenDiagnosticMessageText(d.messageText, ' '),
  }));
  assert.ok(program.getSourceFile(`${ROOT}src/index.ts`) !== undefined, "'kho' resolves to src/index.ts");
  assert.deepEqual(
    diags.filter((d) => d.file !== 'examples/__misuse.ts'),
    [],
  );
  assert.ok(
    diags.some(
      (d) =>
        d.file === 'examples/__misuse.ts' &&
        /'number' is not assignable to parameter of type 'Folio'/.test(d.text),
    ),
    JSON.stringify(diags),
  );
});
