"""Every query and mutation with another tenant's ids answers *not found*.

The cases live in ``tests/*/cross_tenant_cases.py`` (see ``cross_tenant.py``);
the coverage test fails when a root field has neither a case nor a reason.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import build_schema

from qrefund.graphql_schema.schema import print_sdl
from tests.foundation.cross_tenant import Case, Victim, check_refused, tenant_of
from tests.foundation.helpers import row_counts
from tests.support.graphql import gql
from tests.support.world import World

TESTS = Path(__file__).resolve().parent.parent


def _load() -> tuple[list[Case], dict[str, str]]:
    cases: list[Case] = []
    elsewhere: dict[str, str] = {}
    for path in sorted(TESTS.glob("*/cross_tenant_cases.py")):
        module = importlib.import_module(f"tests.{path.parent.name}.cross_tenant_cases")
        cases.extend(module.CASES)
        elsewhere.update(getattr(module, "ELSEWHERE", {}))
    return cases, elsewhere


CASES, ELSEWHERE = _load()
RUNS = [(case, attacker, victim) for case in CASES for attacker, victim in case.pairs]


def _root_fields() -> dict[str, set[str]]:
    schema = build_schema(print_sdl())
    roots = {
        "Query": schema.query_type,
        "Mutation": schema.mutation_type,
        "Subscription": schema.subscription_type,
    }
    return {name: set(t.fields) for name, t in roots.items() if t is not None}


def test_every_root_field_has_a_cross_tenant_case_or_a_reason() -> None:
    covered = {c.field for c in CASES} | set(ELSEWHERE)
    missing = {
        f"{root}.{name}"
        for root, names in _root_fields().items()
        for name in names
        if name not in covered
    }
    assert not missing, (
        f"add a cross-tenant case (tests/<area>/cross_tenant_cases.py) for: {sorted(missing)}"
    )


def test_no_case_names_a_field_that_does_not_exist() -> None:
    every = set().union(*_root_fields().values())
    assert {c.field for c in CASES} | set(ELSEWHERE) <= every


@pytest.mark.parametrize(
    ("case", "attacker", "victim"),
    RUNS,
    ids=[f"{c.label}-{a}->{v}" for c, a, v in RUNS],
)
async def test_other_tenants_ids_answer_not_found(
    client: httpx.AsyncClient,
    world: World,
    owner_engine: Any,
    case: Case,
    attacker: str,
    victim: str,
) -> None:
    target = Victim(
        client=client,
        world=world,
        name=victim,
        tenant_id=tenant_of(world, victim),
        key=world.key(victim),
    )
    variables = await case.variables(target)
    before = row_counts(owner_engine)

    body = await gql(client, case.document, variables, key=world.key(attacker))

    check_refused(case, body)
    assert row_counts(owner_engine) == before, "a refused call changed the database"
    text = json.dumps(body)
    leaked = [s for s in target.secrets if s in text]
    assert not leaked, f"response shows the victim's {leaked}: {text}"
