"""A rule's settings for one merchant: the policy's ``riskRules`` over the built-in
defaults, loosened by the reviewers' feedback.

Feedback: every dismissal of a rule at the merchant (in the last
:data:`FEEDBACK_DAYS` days) beyond its confirmations raises the rule's threshold by
:data:`STEP` of itself, up to :data:`MAX_FACTOR` times: a rule that keeps crying wolf
at one merchant quietens there, and a confirmed flag cancels a dismissal out.
Every rule's threshold is "higher is looser" (a count, a ratio, a k).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qrefund.platform.risk.models import FlagStatus
from qrefund.platform.vocabulary import RiskRule

FEEDBACK_DAYS = 90
STEP = 0.25
MAX_FACTOR = 3.0


@dataclass(frozen=True)
class RuleSettings:
    enabled: bool
    threshold: float  # as tuned by feedback
    base_threshold: float  # the policy's (or the default) before feedback
    dismissed: int = 0
    confirmed: int = 0


def feedback_factor(dismissed: int, confirmed: int) -> float:
    return min(1.0 + STEP * max(dismissed - confirmed, 0), MAX_FACTOR)


def settings_for(rule: RiskRule, default: float, policy_rules: Mapping[str, Any],
                 feedback: Mapping[tuple[str, str], int]) -> RuleSettings:
    entry = policy_rules.get(rule.value) or {}
    base = entry.get("threshold")
    base = float(base) if base is not None else default
    dismissed = feedback.get((rule.value, FlagStatus.DISMISSED.value), 0)
    confirmed = feedback.get((rule.value, FlagStatus.CONFIRMED.value), 0)
    return RuleSettings(enabled=bool(entry.get("enabled", True)),
                        threshold=base * feedback_factor(dismissed, confirmed),
                        base_threshold=base, dismissed=dismissed, confirmed=confirmed)
