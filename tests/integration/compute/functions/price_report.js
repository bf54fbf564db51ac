// Example compute function (JavaScript): a price report over JSON fetched with an API key.
// Input: {"url": "https://...", "currency": "USD"}. The URL must answer {"items": [{"name", "price_cents",
// "qty"}, ...]}; the API key comes from the secret "api_key". Returns a JSON report (several hundred bytes).

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function run(input) {
  const key = nsl.secret('api_key');
  const response = nsl.fetch(input.url, { headers: { 'X-Api-Key': key, Accept: 'application/json' } });
  if (response.status !== 200) throw new Error(`the price source answered ${response.status}`);
  const items = response.json().items;
  if (!items || items.length === 0) throw new Error('the price source returned no items');
  const lines = items
    .map((item) => ({ name: item.name, qty: item.qty, unit_cents: item.price_cents, total_cents: item.price_cents * item.qty }))
    .sort((a, b) => b.total_cents - a.total_cents || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const totals = lines.map((line) => line.total_cents);
  return {
    currency: input.currency ?? 'USD',
    count: lines.length,
    total_cents: totals.reduce((a, b) => a + b, 0),
    max_cents: Math.max(...totals),
    min_cents: Math.min(...totals),
    lines,
    nonce: hex(nsl.randomBytes(16)),
    at_ms: nsl.nowMs(),
  };
}
