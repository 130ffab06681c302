"""What an event family is: its event types, when each fires, and its payload's shape.

A domain that writes outbox events declares its :class:`Family` next to its own
code (``<domain>/event_types.py``); :data:`qrefund.platform.events.CATALOGUE`
lists them all. The catalogue is the one place event types are documented: the
README table, the exported JSON Schemas (``qrefund export-event-schemas``), the
webhook and feed type filters, and the test that validates every event the
suite emits all read it.

A payload is a snapshot of its subject as of the event (status, amounts,
deadlines, escalation), plus the transition's own fields; a replay shows what
happened then, never the subject as it is now. Payload schemas are closed for
the properties they name (type, nullability) and open to properties added later
(``additionalProperties`` stays true): consumers must ignore what they do not
know, so adding a property is not a breaking change.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

JsonSchema = dict[str, Any]
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

# Property shapes, named as a reader of the payload would.
UUID: JsonSchema = {"type": "string", "format": "uuid"}
TEXT: JsonSchema = {"type": "string"}
INT: JsonSchema = {"type": "integer"}
BOOL: JsonSchema = {"type": "boolean"}
DATETIME: JsonSchema = {"type": "string", "format": "date-time"}
MINOR: JsonSchema = {"type": "integer", "description": "an amount in minor units (fen)"}
CURRENCY: JsonSchema = {"type": "string", "pattern": "^[A-Z]{3}$"}
OBJECT: JsonSchema = {"type": "object"}


def nullable(shape: JsonSchema) -> JsonSchema:
    """``shape`` or JSON null."""
    return {"anyOf": [shape, {"type": "null"}]}


def one_of(*values: str) -> JsonSchema:
    return {"type": "string", "enum": list(values)}


@dataclass(frozen=True)
class Family:
    """The events of one aggregate type, ``<name>.<event>``.

    ``snapshot``: properties every event of the family carries (the subject as of
    the event); ``extra``: properties some events add (named per event in
    ``events``' descriptions). ``public``: shown to integrators (webhooks, the
    ``events`` feed); a non-public family is platform bookkeeping (keys, endpoints).
    """

    name: str
    aggregate_type: str
    description: str
    events: Mapping[str, str]  # event -> when it fires
    snapshot: Mapping[str, JsonSchema]
    extra: Mapping[str, JsonSchema] = field(default_factory=dict)
    public: bool = True

    def types(self) -> list[str]:
        return [f"{self.name}.{event}" for event in self.events]

    def json_schema(self, event: str) -> JsonSchema:
        """The JSON Schema of ``<family>.<event>``'s payload."""
        properties = {**self.snapshot, **self.extra}
        return {
            "$schema": SCHEMA_DIALECT,
            "$id": f"urn:qrefund:event:{self.name}.{event}",
            "title": f"{self.name}.{event}",
            "description": self.events[event],
            "type": "object",
            "properties": dict(properties),
            "required": sorted(self.snapshot),
            "additionalProperties": True,
        }


class Catalogue:
    """Families by name; an event type belongs to exactly one."""

    def __init__(self, *families: Family) -> None:
        self._families: dict[str, Family] = {}
        for family in families:
            if family.name in self._families:
                raise ValueError(f"event family {family.name!r} is declared twice")
            self._families[family.name] = family

    def __iter__(self) -> Iterator[Family]:
        return iter(self._families.values())

    def family(self, name: str) -> Family | None:
        return self._families.get(name)

    def spec(self, event_type: str) -> tuple[Family, str] | None:
        """(family, event) of a known type, else None."""
        name, _, event = event_type.partition(".")
        family = self._families.get(name)
        if family is None or event not in family.events:
            return None
        return family, event

    def public_types(self) -> list[str]:
        return [t for family in self if family.public for t in family.types()]

    def json_schemas(self) -> dict[str, JsonSchema]:
        """Every event type's payload schema, by type (the exported catalogue)."""
        return {f"{f.name}.{e}": f.json_schema(e) for f in self for e in f.events}
