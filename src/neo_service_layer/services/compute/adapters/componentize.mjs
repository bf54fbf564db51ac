// Builds one JavaScript compute function into a WebAssembly component with componentize-js.
// Usage: node componentize.mjs <node_modules dir> <entry module> <wit dir> <output file>
// Run by build_javascript.py in a fresh temporary directory; prints nothing on success.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [toolsDir, sourcePath, witPath, outPath] = process.argv.slice(2);
const packageDir = join(toolsDir, '@bytecodealliance', 'componentize-js');
const manifest = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8'));
const entry = typeof manifest.exports === 'string' ? manifest.exports : manifest.exports.import;
const { componentize } = await import(pathToFileURL(join(packageDir, entry)).href);

const { component } = await componentize({
  sourcePath,
  witPath,
  worldName: 'function',
  // No wasi:http: functions reach the network only through nsl.fetch (the host's guarded fetcher).
  disableFeatures: ['http', 'fetch-event'],
});
await writeFile(outPath, component);
