"""wrk as the load generator: installed from Debian's packages when missing, pinned to a
core, fed request bodies and keys through a Lua script, read back as JSON.

Each request takes the next (key, body) pair of the list, round robin, so every
connection cycles through every merchant's key (reads) or through fresh objects
(writes: one payment or case per request). A response counts as bad unless it is
a 200 whose body matches the scenario's marker (no ``"errors"`` for reads, an empty
``userErrors`` for mutations): wrk alone would count a GraphQL error as a success.

A one-use load (writes) stops when every object was sent; wrk itself still waits out
``-d`` and divides by it. So the script also clocks, with ``clock_gettime`` through
LuaJIT's ffi, its first request and its last answer: when the objects ran out, req/s
is the answers over that time (``exhausted`` in the result), not over ``-d``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Any

_SCRIPT = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } qbench_timespec;
int clock_gettime(int clk_id, qbench_timespec *tp);
]]
local clock = ffi.new("qbench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000000 + math.floor(tonumber(clock.tv_nsec) / 1000)
end
local items = %(items)s
local path = %(path)s
local ok_pattern = %(ok)s
local bad_pattern = %(bad)s
local once = %(once)s
local threads = {}
local n = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  n = 0
  answered = 0
  exhausted = 0
  first_us = 0
  last_us = 0
end

function request()
  if once and first_us == 0 then first_us = now_us() end
  if once and n >= #items then
    exhausted = 1
    -- every object was sent once: stop, rather than send one again (a second use would
    -- only be refused, or answered from the idempotency record). Answers still in
    -- flight on other connections are not counted.
    wrk.thread:stop()
    return wrk.format("GET", "/healthz")
  end
  n = n %% #items + 1
  local item = items[n]
  return wrk.format("POST", path, {["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. item[1]}, item[2])
end

function response(status, headers, body)
  if status ~= 200 or (ok_pattern ~= "" and not string.find(body, ok_pattern))
     or (bad_pattern ~= "" and string.find(body, bad_pattern, 1, true)) then
    bad = bad + 1
    if bad == 1 then io.write("WRKBAD ", status, " ", string.sub(body, 1, 300), "\n") end
  end
  answered = answered + 1
  if once then last_us = now_us() end
  if once and answered >= #items then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local total_bad, answers, exhausted_all, active_us = 0, 0, 1, 0
  for _, t in ipairs(threads) do
    total_bad = total_bad + t:get("bad")
    answers = answers + t:get("answered")
    exhausted_all = math.min(exhausted_all, t:get("exhausted"))
    active_us = math.max(active_us, t:get("last_us") - t:get("first_us"))
  end
  io.write("WRKJSON ", string.format(
    '{"requests":%%d,"duration_us":%%d,"bad":%%d,"socket_errors":%%d,' ..
    '"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,"max_us":%%d,' ..
    '"answers":%%d,"exhausted":%%d,"active_us":%%d}',
    summary.requests, summary.duration, total_bad,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    answers, exhausted_all, active_us), "\n")
end
"""


@dataclass
class Load:
    """What one wrk run sends: (key, JSON body) pairs, and how a good answer looks."""

    path: str
    items: list[tuple[str, str]]
    ok_pattern: str = ""  # a Lua pattern the body must match
    bad_text: str = '"errors"'  # plain text the body must not contain
    once: bool = False  # stop when every item has been answered (writes: one use each)


def ensure_wrk() -> str:
    """The wrk binary; ``apt-get install -y wrk`` first when it is missing and we are root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("wrk is missing: install it (apt-get install wrk) and run again")
    print("installing wrk from Debian's packages ...", flush=True)
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=True,
                   stdout=subprocess.DEVNULL)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("apt-get installed wrk but it is not on PATH")
    return found


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here


def _script(load: Load) -> str:
    items = ",\n".join(f"{{{_lua_string(k)}, {_lua_string(b)}}}" for k, b in load.items)
    return _SCRIPT % {"items": "{" + items + "}", "path": _lua_string(load.path),
                      "ok": _lua_string(load.ok_pattern), "bad": _lua_string(load.bad_text),
                      "once": "true" if load.once else "false"}


def run(base_url: str, load: Load, *, duration: float, connections: int,
        core: int) -> dict[str, Any]:
    """One wrk run pinned to ``core``: requests, req/s, p50/p99 (ms), bad answers."""
    binary = ensure_wrk()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(_script(load))
        script = f.name
    try:
        out = subprocess.run(
            ["taskset", "-c", str(core), binary, "-t", "1", "-c", str(connections),
             "-d", f"{duration:.0f}s", "--timeout", "30s", "-s", script, base_url],
            check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(script)
    line = next((x for x in out.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no summary:\n{out}")
    raw = json.loads(line.removeprefix("WRKJSON "))
    first_bad = next((x for x in out.splitlines() if x.startswith("WRKBAD ")), None)
    exhausted = bool(load.once and raw["exhausted"] and raw["active_us"] > 0)
    # Objects ran out: the answers over the time from the first request to the last answer.
    seconds = (raw["active_us"] if exhausted else raw["duration_us"]) / 1e6
    requests = raw["answers"] if exhausted else raw["requests"]
    return {"requests": requests, "rps": requests / seconds,
            "p50_ms": raw["p50_us"] / 1000, "p99_ms": raw["p99_us"] / 1000,
            "bad": raw["bad"] + raw["socket_errors"], "seconds": seconds,
            "exhausted": exhausted,
            "first_bad": first_bad.removeprefix("WRKBAD ") if first_bad else None}
