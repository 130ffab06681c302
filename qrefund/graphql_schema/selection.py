"""Look-ahead on the selection set, so costly fields are computed only when asked."""

from __future__ import annotations

from typing import Any


def wants_field(info: Any, name: str) -> bool:
    for selected in info.selected_fields:
        for child in getattr(selected, "selections", []):
            if getattr(child, "name", None) == name:
                return True
            # fragments: look one level into inline fragments / fragment spreads
            for grandchild in (
                getattr(child, "selections", []) if not hasattr(child, "alias") else []
            ):
                if getattr(grandchild, "name", None) == name:
                    return True
    return False
