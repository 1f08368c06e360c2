// Reference tokenizer for the benchmark, from the npm package js-tiktoken (installed by
// profiler_bench.sh into its work folder, never into the repository).
//
//   node o200k_reference.js ranks MODULE_DIR OUT_FILE   writes o200k_base.tiktoken ("<base64> <rank>" lines)
//   node o200k_reference.js count MODULE_DIR FILE...    prints "<tokens> <file>" per file
'use strict';
const fs = require('fs');
const path = require('path');

const [command, moduleDir, ...rest] = process.argv.slice(2);
const ranks = require(path.join(moduleDir, 'dist', 'ranks', 'o200k_base.cjs'));

if (command === 'ranks') {
  // The package stores runs of consecutive ranks: "<name> <first rank> <token> <token> ...".
  const lines = [];
  for (const line of ranks.bpe_ranks.split('\n')) {
    if (!line) continue;
    const [, first, ...tokens] = line.split(' ');
    tokens.forEach((token, i) => lines.push(`${token} ${Number(first) + i}`));
  }
  fs.writeFileSync(rest[0], lines.join('\n') + '\n');
} else if (command === 'count') {
  const { Tiktoken } = require(path.join(moduleDir, 'dist', 'lite.cjs'));
  const encoder = new Tiktoken(ranks);
  for (const file of rest) {
    console.log(`${encoder.encode(fs.readFileSync(file, 'utf8')).length} ${file}`);
  }
} else {
  console.error('usage: o200k_reference.js ranks|count MODULE_DIR ...');
  process.exit(2);
}
