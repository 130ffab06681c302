"""The seed corpus (:mod:`tests.fuzz.corpus`), replayed through the fuzz checks.

Every seed is a finding of the hardening audit: it must now be refused (the
status and error code it names), with no 5xx, no ``INTERNAL_ERROR`` and nothing
of another tenant in the answer.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.fuzz.checks import Inspector, error_codes
from tests.fuzz.corpus import FAMILIES, Seed
from tests.fuzz.world import FuzzWorld


async def _send(client: httpx.AsyncClient, seed: Seed, key: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    # ASCII JSON (\\uXXXX escapes), as many clients send it: lone surrogates included.
    body = json.dumps({"query": seed.document, "variables": seed.variables}).encode()
    return await client.post("/graphql", content=body, headers=headers)


@pytest.mark.parametrize("family", sorted(FAMILIES))
async def test_seed_corpus(client: httpx.AsyncClient, fuzz_world: FuzzWorld,
                           inspector: Inspector, subtests: pytest.Subtests, family: str) -> None:
    seeds = FAMILIES[family](fuzz_world)
    assert seeds, family
    callers = {c.label: c for c in fuzz_world.callers}
    for seed in seeds:
        with subtests.test(seed.name):
            # Given a hostile request the audit found, from a caller the fuzzer uses
            caller = callers[seed.caller]
            # When it is sent
            response = await _send(client, seed, caller.key)
            # Then it passes the fuzz checks and is refused as the seed expects
            inspector.check(caller, response.status_code, response.text)
            assert response.status_code == seed.status, response.text
            body: dict[str, Any] = response.json()
            codes = error_codes(body)
            if seed.codes:
                assert codes & seed.codes, (seed.codes, response.text)
            else:
                assert body.get("errors"), response.text
