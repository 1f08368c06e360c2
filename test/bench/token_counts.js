// Reads {"name": "text", ...} on stdin and prints each text's o200k token count (the
// tokenizer of GPT-4o-class models), one "name<TAB>tokens<TAB>bytes" line each.
const path = require('path');
const modules = process.env.BENCH_NODE_MODULES || path.join(__dirname, 'node_modules');
const { encode } = require(path.join(modules, 'gpt-tokenizer/cjs/encoding/o200k_base.js'));

let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const texts = JSON.parse(input);
  for (const [name, text] of Object.entries(texts)) {
    console.log(`${name}\t${encode(text).length}\t${Buffer.byteLength(text)}`);
  }
});
