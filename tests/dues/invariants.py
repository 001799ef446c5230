"""Checks the dues tests share: the month totals agree with the lines and payments, and a
snapshot of the ledger to compare before and after an operation."""

from collections import defaultdict
from decimal import Decimal

from dangjian.core.models import Organization
from dangjian.dues.models import LedgerLine, MonthTotal, Payment

COUNTS = ("lines", "paid_lines", "partial_lines", "exempt_lines", "no_base_lines")
SUMS = ("due", "paid", "voluntary", "large_one_off")


def _zero() -> dict:
    return {**dict.fromkeys(COUNTS, 0), **dict.fromkeys(SUMS, Decimal("0.00"))}


def assert_totals_match() -> None:
    """Every MonthTotal row equals the sums over the lines (and voluntary payments) it stands
    for, every organisation-month with lines or voluntary money has its row, and the row's path
    is its organisation's."""
    want: dict[tuple, dict] = defaultdict(_zero)
    for line in LedgerLine.objects.all():
        row = want[(line.organization_id, line.year, line.month)]
        row["lines"] += 1
        row["due"] += line.due or 0
        row["paid"] += line.paid
        status_count = {
            "paid": "paid_lines",
            "partial": "partial_lines",
            "exempt": "exempt_lines",
            "nobase": "no_base_lines",
        }.get(line.status)
        if status_count:
            row[status_count] += 1
    for p in Payment.objects.filter(kind="voluntary", reversed_at__isnull=True):
        row = want[(p.organization_id, p.paid_on.year, p.paid_on.month)]
        row["voluntary"] += p.amount
        if p.large_one_off:
            row["large_one_off"] += p.amount
    paths = dict(Organization.objects.values_list("pk", "path"))
    have = {}
    for t in MonthTotal.objects.all():
        have[(t.organization_id, t.year, t.month)] = {k: getattr(t, k) for k in (*COUNTS, *SUMS)}
        assert t.org_path == paths[t.organization_id], f"stale path in total {t}"
    problems = []
    for key in sorted(set(want) | set(have)):
        expected, found = want.get(key, _zero()), have.get(key)
        if found is None:
            problems.append(f"{key}: no totals row, lines say {expected}")
        elif found != expected:
            diff = {k: (found[k], expected[k]) for k in found if found[k] != expected[k]}
            problems.append(f"{key}: (total, lines) differ: {diff}")
    assert not problems, "MonthTotal out of step:\n" + "\n".join(problems)


def lines_of(member, year: int | None = None) -> list[tuple]:
    """(year, month, organisation id, hosted, due, paid, status) of a member's lines."""
    qs = LedgerLine.objects.filter(member=member)
    if year is not None:
        qs = qs.filter(year=year)
    return list(
        qs.order_by("year", "month").values_list(
            "year", "month", "organization_id", "hosted", "due", "paid", "status"
        )
    )


def where(member, year: int) -> dict[int, int]:
    """month -> collecting organisation id."""
    return dict(
        LedgerLine.objects.filter(member=member, year=year).values_list("month", "organization_id")
    )


def snapshot() -> tuple:
    """Every line (with its id) and every totals row: equal snapshots mean nothing changed."""
    lines = list(
        LedgerLine.objects.order_by("pk").values_list(
            "pk",
            "member_id",
            "year",
            "month",
            "organization_id",
            "org_path",
            "hosted",
            "due",
            "paid",
            "status",
            "paid_on",
        )
    )
    totals = list(
        MonthTotal.objects.order_by("organization_id", "year", "month").values_list(
            "organization_id", "year", "month", *COUNTS, *SUMS
        )
    )
    return lines, totals
