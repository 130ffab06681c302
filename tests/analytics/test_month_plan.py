"""Which whole local days refundStats reads as months, as days added, as days taken."""

from __future__ import annotations

from datetime import date

from qrefund.platform.analytics.service import _month_plan

D = date


def test_a_year_from_the_second_is_twelve_months_less_one_day() -> None:
    assert _month_plan(D(2025, 1, 2), D(2026, 1, 1)) == (
        (D(2025, 1, 1), D(2026, 1, 1)), [], [(D(2025, 1, 1), D(2025, 1, 2))])


def test_each_edge_goes_to_the_nearer_month_boundary() -> None:
    # From the 25th: the days to the month's end are added; to the 3rd: two days added.
    assert _month_plan(D(2026, 2, 25), D(2026, 4, 3)) == (
        (D(2026, 3, 1), D(2026, 4, 1)),
        [(D(2026, 2, 25), D(2026, 3, 1)), (D(2026, 4, 1), D(2026, 4, 3))], [])
    # To the 28th of March: the month is read and its last four days taken.
    assert _month_plan(D(2026, 3, 3), D(2026, 3, 28)) == (
        (D(2026, 3, 1), D(2026, 4, 1)), [],
        [(D(2026, 3, 1), D(2026, 3, 3)), (D(2026, 3, 28), D(2026, 4, 1))])


def test_days_only_when_months_would_read_no_fewer_rows() -> None:
    assert _month_plan(D(2026, 3, 10), D(2026, 3, 25)) is None  # 1 month + 16 days > 15
    assert _month_plan(D(2026, 3, 20), D(2026, 4, 10)) is None  # both edges go to 1 April
    assert _month_plan(D(2026, 3, 1), D(2026, 3, 2)) is None
