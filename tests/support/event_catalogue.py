"""Every event the suite makes the platform write is checked against the catalogue.

``clean_tables`` calls :func:`check_emitted_events` after each test: an event type
the catalogue does not list, or a payload its JSON Schema refuses, fails that
test. So the catalogue cannot drift from what the code emits.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema_rs
from sqlalchemy import text

from qrefund.platform.events import CATALOGUE


@cache
def _validator(event_type: str) -> Any:
    return jsonschema_rs.validator_for(CATALOGUE.json_schemas()[event_type],
                                       validate_formats=True)


def problems(event_type: str, payload: dict[str, Any]) -> list[str]:
    """What is wrong with one event (empty: it matches the catalogue)."""
    if CATALOGUE.spec(event_type) is None:
        return [f"{event_type}: not in the event catalogue"]
    return [f"{event_type}: {e.message} at {list(e.instance_path)}"
            for e in _validator(event_type).iter_errors(payload)]


def check_emitted_events(owner_engine: Any) -> None:
    with owner_engine.connect() as conn:
        rows = conn.execute(text("SELECT type, payload FROM domain_events")).all()
    found: list[str] = []
    for event_type, payload in rows:
        data = json.loads(payload) if isinstance(payload, str) else payload
        found.extend(problems(event_type, data))
    assert not found, "events that do not match the catalogue:\n" + "\n".join(sorted(set(found)))
