"""Languages of the consumer pages: zh-CN by default, English on request.

The choice, strongest first: ``?lang=`` (the visible switch, remembered in a
cookie), the ``qrefund_lang`` cookie, the browser's ``Accept-Language`` (its
preferred language among ours, by quality), else zh-CN: most consumers are in
mainland China, and a browser saying nothing should get Chinese.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel.support import Translations

LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
COOKIE = "qrefund_lang"
TRANSLATIONS_DIR = Path(__file__).parent / "translations"
# What a visitor may type in ?lang= or send in the cookie, to our locale.
_ALIASES = {"zh": "zh_CN", "zh-cn": "zh_CN", "zh_cn": "zh_CN", "zh-hans": "zh_CN",
            "en": "en", "en-us": "en", "en-gb": "en"}


def known(value: str | None) -> str | None:
    """Our locale for a ``lang`` value, or None for anything else."""
    if not value or len(value) > 16:
        return None
    return _ALIASES.get(value.strip().lower())


def from_accept_language(header: str | None) -> str | None:
    """The visitor's preferred locale among ours (``zh-TW`` counts as Chinese too)."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header[:512].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        locale = {"zh": "zh_CN", "en": "en"}.get(primary)
        if locale and quality > 0:
            ranked.append((-quality, position, locale))
    return min(ranked)[2] if ranked else None


def negotiate(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    return (known(query) or known(cookie) or from_accept_language(accept_language)
            or DEFAULT_LOCALE)


def html_lang(locale: str) -> str:
    """The BCP 47 tag for ``<html lang>``."""
    return locale.replace("_", "-")


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> Translations:
    """The compiled catalog of a locale (``messages.mo``, built by scripts/i18n-compile)."""
    found = Translations.load(str(TRANSLATIONS_DIR), [locale], domain="messages")
    if not isinstance(found, Translations):  # no .mo: a broken build, not a fallback
        raise RuntimeError(f"no compiled catalog for {locale}: run scripts/i18n-compile")
    return found
