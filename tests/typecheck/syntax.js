// Counts the TypeScript compiler's own syntax errors in each file named on the command line
// (TypeScript and JavaScript alike), one `path<TAB>count<TAB>first message` line per file:
// tests/fixes_compile.rs runs it before and after applying every fix.
'use strict';
const fs = require('fs');
const path = require('path');
const ts = require(process.env.TYPESCRIPT_MODULE);

const kinds = {
  '.ts': ts.ScriptKind.TS,
  '.mts': ts.ScriptKind.TS,
  '.cts': ts.ScriptKind.TS,
  '.tsx': ts.ScriptKind.TSX,
  '.js': ts.ScriptKind.JS,
  '.mjs': ts.ScriptKind.JS,
  '.cjs': ts.ScriptKind.JS,
  '.jsx': ts.ScriptKind.JSX,
};
for (const file of process.argv.slice(2)) {
  const text = fs.readFileSync(file, 'utf8');
  const kind = kinds[path.extname(file)] ?? ts.ScriptKind.TS;
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, kind);
  const diags = sf.parseDiagnostics;
  const first = diags.length
    ? `${sf.getLineAndCharacterOfPosition(diags[0].start).line + 1}: ${ts.flattenDiagnosticMessageText(diags[0].messageText, ' ')}`
    : '';
  process.stdout.write(`${file}\t${diags.length}\t${first}\n`);
}
