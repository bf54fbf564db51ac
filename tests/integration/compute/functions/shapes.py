"""Test function (Python): one behaviour of the builder's wrapper and of ``nsl`` per input "case"."""

import importlib

import nsl


def run(input):
    case = input["case"]
    if case == "bytes":
        return bytes((i * 3) % 256 for i in range(input["n"]))
    if case == "text":
        return input["text"] * 2
    if case == "json":
        return {"echo": input, "sum": sum(input.get("xs", []))}
    if case == "none":
        return None
    if case == "unencodable":
        return {1, 2}
    if case == "raise":
        raise ValueError(input["message"])
    if case == "random_too_many":
        return nsl.random_bytes(5000)
    if case == "post":
        response = nsl.fetch(input["url"], method="post", headers=[("X-A", "1"), ("X-B", "2")], body="héllo")
        return {"status": response.status, "headers": response.headers, "text": response.text()}
    if case == "import":
        try:
            importlib.import_module(input["module"])
        except ImportError:
            return "missing"
        return "present"
    raise ValueError(f"unknown case {case}")
