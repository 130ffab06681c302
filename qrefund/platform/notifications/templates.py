"""Consumer message templates, rendered with Jinja2: the engine every subject's
messages go through (the texts live with their subject: a refund case's in
``qrefund/platform/refunds/messages.py``).

A :class:`Templates` holds, per locale, three templates per kind of message:
``<kind>.subject`` and ``<kind>.email`` for e-mail, ``<kind>.sms`` for text
messages; the subject's link line and signature are appended to every e-mail
(the link line to every text). Messages are plain text (no HTML), so nothing is
escaped; undefined variables are errors (a template cannot silently print an
empty amount), and a kind missing a part in any locale is refused up front.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from jinja2 import DictLoader, Environment, StrictUndefined

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "en"
PARTS = ("subject", "email", "sms")


@dataclass(frozen=True)
class Rendered:
    locale: str
    template: str
    subject: str
    email: str
    sms: str


class Templates:
    """One subject's messages in every locale. ``texts[locale]["<kind>.<part>"]`` is a
    template; ``link[locale]`` (given ``link``, may be None) and ``signature[locale]``
    end each e-mail. Rendered messages are named ``<family>.<kind>``."""

    def __init__(self, family: str, texts: Mapping[str, Mapping[str, str]], *,
                 link: Mapping[str, str], signature: Mapping[str, str]) -> None:
        kinds = list(dict.fromkeys(n.rpartition(".")[0] for n in texts.get(DEFAULT_LOCALE, {})))
        wanted = {f"{kind}.{part}" for kind in kinds for part in PARTS}
        for locale in LOCALES:
            names = set(texts.get(locale, {}))
            if names != wanted or locale not in link or locale not in signature:
                raise ValueError(f"{family} templates, {locale}: every kind needs "
                                 f"{', '.join(PARTS)}, a link line and a signature")
        self.family = family
        self.kinds = tuple(kinds)
        self._sources: dict[str, str] = {}
        for locale in LOCALES:
            for name, text in texts[locale].items():
                if name.endswith(".email"):
                    text = text + link[locale] + signature[locale]
                elif name.endswith(".sms"):
                    text = text + link[locale].replace("\n\n", " ")
                self._sources[f"{locale}/{name}"] = text

    @cached_property
    def environment(self) -> Environment:
        return Environment(loader=DictLoader(self._sources), undefined=StrictUndefined,
                           autoescape=False, keep_trailing_newline=False)

    def render(self, kind: str, locale: str, context: dict[str, Any]) -> Rendered:
        if kind not in self.kinds:
            raise KeyError(kind)
        lang = locale if locale in LOCALES else DEFAULT_LOCALE
        env = self.environment

        def one(part: str) -> str:
            return env.get_template(f"{lang}/{kind}.{part}").render(**context).strip()

        return Rendered(locale=lang, template=f"{self.family}.{kind}", subject=one("subject"),
                        email=one("email"), sms=one("sms"))
