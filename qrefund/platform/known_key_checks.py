"""The rate-limit check of requests whose key is already known, batched per loop turn.

A request whose key this process holds (the key cache) checks two budgets in Redis: the
client address's failed-authentication budget and the key's own (see
:mod:`qrefund.platform.ratelimit`). Every request checking alone cost a round trip and
redis-py's whole call path (connection pool, command packing, reply parsing, script
bookkeeping: about 400 Python calls, a sixth of a small read). The checks asked for
during one turn of the event loop are sent instead as **one** script call carrying all
of them: the requests an API process reads in one wake-up (every socket that became
readable) reach their check in the same turn, so under load one call serves several.

The script runs the checks one after the other in the order they were asked, inside
Redis's single-threaded script execution, so each sees the counters as the previous one
left them: exactly the outcomes of the same checks made one call at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from redis.asyncio import Redis

# limits' sliding window counter (its sliding_window.lua and acquire_sliding_window.lua,
# same keys, same arithmetic), for two budgets per check, four keys a check: the test of
# the address's failed-authentication budget (keys 1-2), then, unless that is spent, a
# hit on the key's budget (keys 3-4). Each budget is a (previous, current) window pair;
# a current window past its first period becomes the previous one. One outcome a check:
# 0 (served), 1 (the address is blocked) or 2 (the key's budget is spent).
KNOWN_KEY_LUA = """
local function shift(previous, current, expiry)
    local ttl = tonumber(redis.call('pttl', current))
    if ttl > 0 and ttl < expiry then
        redis.call('rename', current, previous)
        redis.call('set', current, 0, 'PX', ttl + expiry)
    end
end
local function counts(previous, current)
    local previous_ttl = tonumber(redis.call('pttl', previous)) or 0
    if previous_ttl < 0 then previous_ttl = 0 end
    return tonumber(redis.call('get', previous)) or 0, previous_ttl,
           tonumber(redis.call('get', current)) or 0
end
local failures, failures_expiry = tonumber(ARGV[1]), tonumber(ARGV[2]) * 1000
local limit, expiry = tonumber(ARGV[3]), tonumber(ARGV[4]) * 1000
local function check(k)
    shift(KEYS[k + 1], KEYS[k + 2], failures_expiry)
    local count, ttl, current = counts(KEYS[k + 1], KEYS[k + 2])
    if count * ttl / failures_expiry + current >= failures then
        return 1
    end
    shift(KEYS[k + 3], KEYS[k + 4], expiry)
    count, ttl, current = counts(KEYS[k + 3], KEYS[k + 4])
    if math.floor(count * ttl / expiry) + current + 1 > limit then
        return 2
    end
    if redis.call('exists', KEYS[k + 4]) == 1 then
        redis.call('incrby', KEYS[k + 4], 1)
    else
        redis.call('set', KEYS[k + 4], 1, 'PX', expiry * 2)
    end
    return 0
end
local outcomes = {}
for k = 0, #KEYS - 1, 4 do
    outcomes[#outcomes + 1] = check(k)
end
return outcomes
"""


class KnownKeyChecks:
    """The checks of one limiter, gathered per loop turn and sent as one script call.

    ``args`` are the script's four constant arguments (the two budgets), as bytes;
    ``timeout`` (seconds, read at each call) bounds a whole call, connecting included.
    """

    def __init__(self, redis: Redis, args: list[bytes], timeout: float) -> None:
        self._script = redis.register_script(KNOWN_KEY_LUA)
        self._args = args
        self.timeout = timeout
        self._keys: list[bytes] = []
        self._waiting: list[asyncio.Future[int]] = []
        self._calls: set[asyncio.Task[None]] = set()  # held until done (no lost task)
        self.calls_made = 0  # script calls sent (for the tests and the curious)

    async def outcome(self, keys: Sequence[bytes]) -> int:
        """The outcome of one check (the address's two window keys, then the key's)."""
        loop = asyncio.get_running_loop()
        if not self._waiting:  # the first check of this turn sends them all at its end
            loop.call_soon(self._send)
        waiter: asyncio.Future[int] = loop.create_future()
        self._keys += keys
        self._waiting.append(waiter)
        return await waiter

    async def close(self) -> None:
        """Wait for the calls under way (the limiter closes its client after)."""
        if self._calls:
            await asyncio.gather(*self._calls, return_exceptions=True)

    def _send(self) -> None:
        keys, waiting = self._keys, self._waiting
        self._keys, self._waiting = [], []
        call = asyncio.ensure_future(self._call(keys, waiting))
        self._calls.add(call)
        call.add_done_callback(self._calls.discard)

    async def _call(self, keys: list[bytes], waiting: list[asyncio.Future[int]]) -> None:
        self.calls_made += 1
        try:
            async with asyncio.timeout(self.timeout):
                outcomes = await self._script(keys=keys, args=self._args)
            if len(outcomes) != len(waiting):
                raise RuntimeError(f"{len(outcomes)} outcomes for {len(waiting)} checks")
            for waiter, outcome in zip(waiting, outcomes, strict=True):
                if not waiter.done():  # a waiter cancelled meanwhile has gone
                    waiter.set_result(int(outcome))
        except Exception as exc:  # each check fails as the call did (the limiter fails open)
            for waiter in waiting:
                if not waiter.done():
                    waiter.set_exception(exc)
        finally:  # cancelled (the loop closing): nobody waits forever
            for waiter in waiting:
                if not waiter.done():
                    waiter.cancel()
