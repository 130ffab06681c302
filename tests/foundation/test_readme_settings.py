"""The README documents every setting: each ``QREFUND_*`` variable ``Settings`` reads."""

from __future__ import annotations

from pathlib import Path

from qrefund.platform.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    names = [f"QREFUND_{field.upper()}" for field in Settings.model_fields]
    assert names, "Settings has no fields?"
    assert [name for name in names if name not in text] == []
