"""The catalogs: every message in both languages, compiled files up to date."""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from qrefund.portal.i18n import LOCALES, TRANSLATIONS_DIR

ROOT = Path(__file__).resolve().parents[2]


def _catalog(locale: str, kind: str = "po") -> dict[object, object]:
    path = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / f"messages.{kind}"
    data = path.read_bytes()
    cat = read_po(BytesIO(data), locale=locale) if kind == "po" else read_mo(BytesIO(data))
    return {m.id: m.string for m in cat if m.id}


def _extracted() -> set[str]:
    """The messages the code and templates use now (what scripts/i18n-extract finds)."""
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n",
                                     "trim_blocks": "true", "lstrip_blocks": "true"}}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT / "qrefund" / "portal"), method_map, options):
        found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_is_translated(locale: str) -> None:
    catalog = _catalog(locale)
    assert catalog, "empty catalog"
    empty = [mid for mid, text in catalog.items()
             if not text or (isinstance(text, tuple) and not all(text))]
    assert empty == [], f"untranslated in {locale}: run scripts/i18n-update and translate"
    assert set(catalog) >= {m for m in _extracted()}, "run scripts/i18n-update"


def test_chinese_is_chinese_and_placeholders_survive() -> None:
    for mid, text in _catalog("zh_CN").items():
        assert isinstance(mid, str) and isinstance(text, str)
        if re.search(r"[A-Za-z]{4,}", mid):
            assert re.search(r"[\u4e00-\u9fff]", text), (mid, text)
        assert re.findall(r"%\(\w+\)s", mid) == re.findall(r"%\(\w+\)s", text), mid


@pytest.mark.parametrize("locale", LOCALES)
def test_compiled_catalogs_match_the_sources(locale: str) -> None:
    assert _catalog(locale, "mo") == _catalog(locale), "run scripts/i18n-compile"


def test_babel_config_names_the_portal() -> None:
    config = (ROOT / "babel.cfg").read_text()
    assert "[python: **.py]" in config and "[jinja2: templates/**.html]" in config
