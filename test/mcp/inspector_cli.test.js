// The official MCP Inspector, in its CLI mode, against the bridge over Streamable HTTP.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const { env } = require('./harness.js');

function inspector(args, { key = env.adminKey } = {}) {
  const headers = key ? ['--header', `Authorization: Bearer ${key}`] : [];
  return new Promise((resolve) => {
    execFile(process.execPath, [env.inspectorBin, '--cli', env.url + '/mcp', '--transport', 'http', ...headers, ...args],
      { timeout: 60000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? error.code : 0, stdout, stderr }));
  });
}

test('Inspector CLI lists the tools with schemas and annotations', async () => {
  const run = await inspector(['--method', 'tools/list']);
  assert.equal(run.code, 0, run.stderr);
  const { tools } = JSON.parse(run.stdout);
  const names = tools.map((t) => t.name);
  for (const name of ['list_datasets', 'describe_dataset', 'get_table_detail', 'execute_query',
    'execute_multi_query', 'get_global_context']) {
    assert.ok(names.includes(name), `${name} is listed`);
  }
  for (const tool of tools) {
    assert.equal(tool.inputSchema.type, 'object', `${tool.name} takes an object`);
    // Every tool reads, but reprofile_dataset, which queues a profile job (admin keys only).
    assert.equal(tool.annotations.readOnlyHint, tool.name !== 'reprofile_dataset', `${tool.name}: readOnlyHint`);
    assert.equal(tool.annotations.destructiveHint, false);
    assert.ok(tool.description.length > 80, `${tool.name} is described for a model`);
  }
  const query = tools.find((t) => t.name === 'execute_query');
  assert.match(query.description, new RegExp(`${env.datasetId} = demo_panel`), 'it names the live dataset');
});

test('Inspector CLI calls execute_query on the demo dataset', async () => {
  const run = await inspector(['--method', 'tools/call', '--tool-name', 'execute_query',
    '--tool-arg', `dataset_id=${env.datasetId}`,
    '--tool-arg', 'sql=SELECT gender, round(sum(weight)) AS weighted_users FROM panelists GROUP BY gender ORDER BY gender']);
  assert.equal(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout);
  assert.equal(result.isError, false, result.content?.[0]?.text);
  assert.match(result.content[0].text, /\|gender\|weighted_users\|/);
  assert.equal(result.structuredContent.row_count, 2);
  assert.deepEqual(result.structuredContent.columns.map((c) => c.name), ['gender', 'weighted_users']);
});

test('Inspector CLI reads a resource and gets a prompt', async () => {
  let run = await inspector(['--method', 'resources/read', '--uri', `mcp-analytics://datasets/${env.datasetId}/overview`]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(JSON.parse(run.stdout).contents[0].text, /^Untrusted data from the dataset follows[^\n]*\n<untrusted-data id="[0-9a-f]{32}">\n# demo_panel/);
  run = await inspector(['--method', 'prompts/get', '--prompt-name', 'analyze_dataset',
    '--prompt-args', `dataset_id=${env.datasetId}`, 'question=Who buys on CTV?']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(JSON.parse(run.stdout).messages[0].content.text, /Who buys on CTV\?/);
});

test('Inspector CLI without a key is refused', async () => {
  const run = await inspector(['--method', 'tools/list'], { key: null });
  assert.notEqual(run.code, 0);
  assert.doesNotMatch(run.stdout, /execute_query/);
});
