"""Example compute function (Python): a price report over JSON fetched with an API key.

Input: {"url": "https://...", "currency": "USD"}. The URL must answer {"items": [{"name", "price_cents",
"qty"}, ...]}; the API key comes from the secret "api_key". Returns a JSON report (several hundred bytes).
"""

import nsl


def run(input):
    key = nsl.secret("api_key")
    response = nsl.fetch(input["url"], headers={"X-Api-Key": key, "Accept": "application/json"})
    if response.status != 200:
        raise ValueError(f"the price source answered {response.status}")
    items = response.json().get("items")
    if not items:
        raise ValueError("the price source returned no items")
    lines = []
    for item in sorted(items, key=lambda i: (-i["price_cents"] * i["qty"], i["name"])):
        total = item["price_cents"] * item["qty"]
        lines.append(
            {
                "name": item["name"],
                "qty": item["qty"],
                "unit_cents": item["price_cents"],
                "total_cents": total,
            }
        )
    grand = sum(line["total_cents"] for line in lines)
    return {
        "currency": input.get("currency", "USD"),
        "count": len(lines),
        "total_cents": grand,
        "max_cents": max(line["total_cents"] for line in lines),
        "min_cents": min(line["total_cents"] for line in lines),
        "lines": lines,
        "nonce": nsl.random_bytes(16).hex(),
        "at_ms": nsl.now_ms(),
    }
