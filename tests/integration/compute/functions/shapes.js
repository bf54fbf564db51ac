// Test function (JavaScript): one behaviour of the builder's wrapper and of `nsl` per input "case".
import nslModule from './nsl.js';

export function run(input) {
  switch (input.case) {
    case 'bytes':
      return Uint8Array.from({ length: input.n }, (_, i) => (i * 3) % 256);
    case 'text':
      return input.text.repeat(2);
    case 'json':
      return { echo: input, sum: (input.xs ?? []).reduce((a, b) => a + b, 0) };
    case 'none':
      return undefined;
    case 'unencodable':
      return { big: 1n };
    case 'raise':
      throw new Error(input.message);
    case 'random_too_many':
      return nsl.randomBytes(5000);
    case 'post': {
      const response = nsl.fetch(input.url, { method: 'post', headers: [['X-A', '1'], ['X-B', '2']], body: 'héllo' });
      return { status: response.status, headers: response.headers, text: response.text() };
    }
    case 'globals':
      return { nsl: typeof nsl, same: nslModule === globalThis.nsl, keys: Object.keys(nsl).sort() };
    default:
      throw new Error(`unknown case ${input.case}`);
  }
}
