// Host access for a tenant's JavaScript compute function: the global `nsl` (also `import nsl from "./nsl.js"`).
// Bundled into every JavaScript function by the builder; a thin, friendly layer over the WIT imports of
// nsl:compute/host so that user code never sees the generated bindings.
import {
  fetch as hostFetch,
  secret as hostSecret,
  nowMs as hostNowMs,
  randomBytes as hostRandomBytes,
} from 'nsl:compute/host@0.1.0';

/** A host call was refused or failed; the message says why (a rule, a limit, an unknown secret). */
export class HostError extends Error {
  constructor(message) {
    super(message);
    this.name = 'HostError';
  }
}

function hostCall(call) {
  try {
    return call();
  } catch (error) {
    // A WIT `result` error arrives as a ComponentError whose payload is the host's message.
    const message = error && typeof error === 'object' && 'payload' in error ? error.payload : error;
    throw new HostError(String(message));
  }
}

function headerPairs(headers) {
  if (headers === undefined || headers === null) return [];
  const items = Array.isArray(headers) ? headers : Object.entries(headers);
  return items.map(([name, value]) => [String(name), String(value)]);
}

function bodyBytes(body) {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return new TextEncoder().encode(body);
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  throw new TypeError('nsl.fetch: body must be a string, a Uint8Array or an ArrayBuffer');
}

/** Make an HTTPS request through the enclave's guarded fetcher; throws HostError when refused. */
function fetch(url, { method = 'GET', headers, body } = {}) {
  const request = { method: String(method).toUpperCase(), url: String(url), headers: headerPairs(headers), body: bodyBytes(body) };
  const response = hostCall(() => hostFetch(request));
  const merged = {};
  for (const [name, value] of response.headers) {
    const key = name.toLowerCase();
    merged[key] = key in merged ? `${merged[key]}, ${value}` : value;
  }
  const responseBody = response.body;
  return {
    status: response.status,
    headers: merged,
    body: responseBody,
    text: () => new TextDecoder().decode(responseBody),
    json: () => JSON.parse(new TextDecoder().decode(responseBody)),
  };
}

/** The value of one of the tenant's secrets granted to this function; throws HostError otherwise. */
function secret(name) {
  return hostCall(() => hostSecret(String(name)));
}

/** Milliseconds since the Unix epoch, by the enclave's clock. */
function nowMs() {
  return Number(hostNowMs());
}

/** n bytes (0 to 4096) from the enclave's random source, as a Uint8Array. */
function randomBytes(n) {
  if (!Number.isInteger(n) || n < 0 || n > 4096) throw new HostError('randomBytes takes 0 to 4096 bytes per call');
  return hostRandomBytes(n);
}

export const nsl = Object.freeze({ fetch, secret, nowMs, randomBytes, HostError });
globalThis.nsl = nsl;
export default nsl;
