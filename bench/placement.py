"""Where the shared services run while a benchmark times its servers.

``bench.compare`` pins each server to one core and wrk to the other. PostgreSQL and
Redis are left to the scheduler, which places their processes on either core, the
server's included: measured on the 50-transaction page, the API's core was 100% busy
while the API itself had 83% of it (PostgreSQL backends and Redis took the rest), and
the floor, which makes no Redis call, kept 99% of its core. :func:`services_on` moves
PostgreSQL (the postmaster, every process it has started, and so every backend it
starts later) and the Redis server to the load generator's core for the run, as if
they were on another machine, and gives each server its whole core; their previous
placement is restored on exit. The load core's own busy share is printed per run
(:func:`core_busy`): a run where it is near 100% was limited by the load side, not
by the server.

Pinning needs the right to change another process's affinity (root, or the same user
with CAP_SYS_NICE); without it the run goes on unpinned, with a note.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import psycopg
import redis


def _threads(pid: int) -> list[int]:
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except FileNotFoundError:
        return []


def _children(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.append(int(entry))
    return found


def _service_pids(database_url: str, redis_url: str) -> dict[str, list[int]]:
    """The postmaster and its processes (asked of the server: the backend's parent),
    and the Redis server's process id (its INFO)."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        # Read while the connection is open: its backend exits as the connection closes
        # (a run once lost its placement to that race: "/proc/<pid>/stat" was gone).
        with open(f"/proc/{row[0]}/stat") as f:
            postmaster = int(f.read().rsplit(")", 1)[1].split()[1])
    client = redis.Redis.from_url(redis_url)
    try:
        redis_pid = int(client.info("server")["process_id"])
    finally:
        client.close()
    return {"PostgreSQL": [postmaster, *_children(postmaster)], "Redis": [redis_pid]}


@contextlib.contextmanager
def services_on(core: int | None, database_url: str, redis_url: str) -> Iterator[str]:
    """PostgreSQL and Redis on ``core`` (None: left where they are) until the block
    ends; yields a line that says what was done, for the report."""
    if core is None:
        yield "PostgreSQL and Redis left to the scheduler"
        return
    saved: dict[int, set[int]] = {}
    try:
        services = _service_pids(database_url, redis_url)
        for pid in (p for pids in services.values() for p in pids):
            for tid in _threads(pid):
                with contextlib.suppress(ProcessLookupError):  # a backend that just ended
                    saved[tid] = os.sched_getaffinity(tid)
                    os.sched_setaffinity(tid, {core})
        note = (f"PostgreSQL ({len(services['PostgreSQL'])} processes and every backend "
                f"started later) and Redis pinned to core {core}")
    except (OSError, psycopg.Error, redis.RedisError) as exc:
        note = f"PostgreSQL and Redis NOT pinned ({exc}): left to the scheduler"
    print(note, flush=True)
    try:
        yield note
    finally:
        for tid, cores in saved.items():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(tid, cores)


def core_ticks(core: int) -> tuple[int, int]:
    """(busy, total) jiffies of one core so far (``/proc/stat``)."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{core} "):
                values = [int(v) for v in line.split()[1:]]
                idle = values[3] + values[4]  # idle + iowait
                return sum(values) - idle, sum(values)
    return 0, 0


def core_busy(before: tuple[int, int], after: tuple[int, int],
              seconds: float | None = None) -> float:
    """The share of a core that was busy between two :func:`core_ticks` readings, or
    over the last ``seconds`` of that time when the work took only those."""
    total = seconds * os.sysconf("SC_CLK_TCK") if seconds else after[1] - before[1]
    return min((after[0] - before[0]) / total, 1.0) if total else 0.0
