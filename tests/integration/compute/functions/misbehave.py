"""Test function (Python): each input "case" breaks one rule of the sandbox, or behaves."""

import time

import nsl


def run(input):
    case = input["case"]
    if case == "loop":
        while True:
            pass
    if case == "memory":
        hoard = []
        while True:
            hoard.append(bytearray(1024 * 1024))
    if case == "sleep":
        time.sleep(3600)
        return "woke up"
    if case == "fetch":
        return nsl.fetch(input["url"]).text()
    if case == "secret":
        return {"length": len(nsl.secret(input["name"]))}
    return {"ok": True, "case": case}
