"""Fuzzing every query and mutation with schemathesis, as callers of several roles.

Each root field of the schema (schemathesis' GraphQL mode, positive and negative
documents) is called as one of: no key, the operator, and merchant A and its agency
with keys of every role. Ids are mostly real ids of every tenant's objects (see
:mod:`tests.fuzz.strategies`). A response fails the run on any 5xx, any
``INTERNAL_ERROR``, or any id the caller may not see (:mod:`tests.fuzz.checks`).

``QREFUND_FUZZ_EXAMPLES`` sets the cases per operation (default 120: about two
minutes per backend on two busy cores); set it higher for a longer run. Runs are
derandomized: the same code gives the same cases.

One test, one world, a subtest per operation: schemathesis' pytest loader for
fixtures (``from_fixture(...).parametrize()``) does not run under pytest 9.2 (it
sets ``Node._nodeid``, gone there), so the operations are driven through their
Hypothesis strategies (``APIOperation.as_strategy``) here.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.fuzz import strategies
from tests.fuzz.checks import Inspector
from tests.fuzz.documents import with_ids
from tests.fuzz.world import FuzzWorld

EXAMPLES = int(os.environ.get("QREFUND_FUZZ_EXAMPLES", "120"))
FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(HealthCheck))

strategies.register()


def _fuzz(operation: Any, fuzz_world: FuzzWorld, inspector: Inspector) -> None:
    # Mostly valid documents (they reach the services), some invalid ones.
    schema = operation.schema.client_schema
    cases = st.sampled_from([GenerationMode.POSITIVE] * 3 + [GenerationMode.NEGATIVE]).flatmap(
        lambda mode: operation.as_strategy(generation_mode=mode))

    @FUZZ_SETTINGS
    @given(caller=st.sampled_from(fuzz_world.callers), case=cases)
    def run(caller: Any, case: Any) -> None:
        # Given a generated call and a caller (no key, or a key of some role and tenant)
        headers = {"Authorization": f"Bearer {caller.key}"} if caller.key else {}
        # When it is sent (asking every object for its id, for the leak check)
        case.body = with_ids(case.body, schema)
        response = case.call(headers=headers)
        # Then nothing broke and nothing of another tenant came back
        inspector.check(caller, response.status_code, response.content.decode(),
                        request=case.body)

    run()


def test_graphql_fuzz(fuzz_schema: Any, fuzz_world: FuzzWorld, inspector: Inspector,
                      subtests: pytest.Subtests) -> None:
    operations = [result.ok() for result in fuzz_schema.get_all_operations()]
    assert len(operations) > 30, "every query and mutation is fuzzed"
    for operation in operations:
        with subtests.test(operation.label):
            _fuzz(operation, fuzz_world, inspector)
    # The ids were real: answers showed tenants' objects (to callers who may see them),
    # so the leak check had something to look at.
    assert inspector.hits >= min(len(operations), EXAMPLES), inspector.hits
