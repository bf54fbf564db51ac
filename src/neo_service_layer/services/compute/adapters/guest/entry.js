// The WIT export `run` around the tenant's module (function.js); written next to it by the builder.
// Parses the input from JSON, calls the user's run(input) and encodes what it returns as bytes.
import { HostError } from './nsl.js';
import * as user from './function.js';

const BUILD_ERROR = 'NSL-BUILD-ERROR: ';
if (typeof user.run !== 'function') {
  throw new Error(`${BUILD_ERROR}function.js exports no function run(input): add \`export function run(input) { ... }\``);
}

function describe(error) {
  if (error instanceof HostError) return error.message;
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

function encode(result) {
  if (result instanceof Uint8Array) return result;
  if (result instanceof ArrayBuffer) return new Uint8Array(result);
  if (typeof result === 'string') return new TextEncoder().encode(result);
  if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
    throw 'run returned a Promise: it must return its result directly (no async)';
  }
  let text;
  try {
    text = JSON.stringify(result === undefined ? null : result);
  } catch (error) {
    throw `run returned a value that cannot be encoded as JSON: ${describe(error)}`;
  }
  if (text === undefined) throw `run returned a ${typeof result}, which cannot be encoded as JSON`;
  return new TextEncoder().encode(text);
}

// The component's export: a thrown string becomes the WIT error (a thrown Error object would trap).
export function run(input) {
  let value = null;
  if (input.trim() !== '') {
    try {
      value = JSON.parse(input);
    } catch (error) {
      throw `the input is not JSON: ${describe(error)}`;
    }
  }
  let result;
  try {
    result = user.run(value);
  } catch (error) {
    throw describe(error);
  }
  return encode(result);
}
