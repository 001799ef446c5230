"""Generating and keeping the ledger: one line per member and month owed.

`generate(year, org)` writes a year's lines for an organisation's subtree. Two paths give the same
lines (a test checks them against each other):
- members whose year is plain (active, no timeline event on or after 1 January, no stay at a
  host of the platform, no relief) get their twelve lines from one INSERT … SELECT;
- the others (joined, moved, left, away or relieved during the year) are worked out member by
  member by `rules.months_due` from their timeline, and their lines are brought in step
  (`sync_members`), which is also what a change to a timeline or a stay calls.

Lines already paid are never moved or deleted: money received stays where it was received.
`refresh_totals` keeps `MonthTotal` (per organisation and month) in step with the lines.
"""

import datetime
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Exists, Max, Min, OuterRef, Q, Sum

from dangjian.core.models import Organization
from dangjian.members import rules as member_rules
from dangjian.members.models import Member, StandingEvent
from dangjian.transfers.models import MobileStay

from . import rules
from .models import (
    Allocation,
    DuesBase,
    LedgerLine,
    Payment,
    PaymentKind,
    Relief,
    ReliefState,
)

MONTHS_SQL = "SELECT 1 AS m " + " ".join(f"UNION ALL SELECT {i}" for i in range(2, 13))


def due_of(base: DuesBase | None, reliefs: Iterable[Relief], year: int, month: int):
    """(amount due or None, exempt) for one member-month: approved relief first, then the base."""
    for relief in reliefs:
        if relief.state == ReliefState.APPROVED and relief.covers(year, month):
            if relief.kind == "exempt":
                return Decimal("0.00"), True
            return relief.amount, False
    if base is None:
        return None, False
    return base.amount, False


def status_of(due, paid, exempt: bool) -> str:
    return rules.line_status(due, paid or Decimal(0), exempt)


# Expected lines ------------------------------------------------------------------------------


def _timelines(member_ids: list[int]) -> dict[int, list[member_rules.Event]]:
    found: dict[int, list] = defaultdict(list)
    rows = StandingEvent.objects.filter(member_id__in=member_ids).values_list(
        "member_id", "kind", "occurred_on", "organization_id", "id", "detail"
    )
    for member_id, kind, on, org_id, pk, detail in rows:
        found[member_id].append(member_rules.Event(kind, on, org_id, pk, detail))
    return found


def _stays(member_ids: list[int], year: int) -> dict[int, list[rules.Stay]]:
    found: dict[int, list] = defaultdict(list)
    rows = (
        MobileStay.objects.filter(
            member_id__in=member_ids,
            host_org__isnull=False,
            since__lte=datetime.date(year, 12, 1),
        )
        .filter(Q(returned_on__isnull=True) | Q(returned_on__gt=datetime.date(year, 1, 1)))
        .values_list("member_id", "host_org_id", "since", "returned_on")
    )
    for member_id, host, since, returned in rows:
        found[member_id].append(rules.Stay(host, since, returned))
    return found


def expected(member_ids: list[int], year: int) -> dict[int, list[rules.MonthDue]]:
    """What each member owes in `year`, month by month, from their timeline and stays."""
    timelines = _timelines(member_ids)
    stays = _stays(member_ids, year)
    return {
        pk: rules.months_due(member_rules.derive, timelines.get(pk, []), stays.get(pk, []), year)
        for pk in member_ids
    }


# Bringing lines in step ----------------------------------------------------------------------


def _paths(org_ids: Iterable[int]) -> dict[int, str]:
    return dict(Organization.objects.filter(pk__in=set(org_ids)).values_list("pk", "path"))


def sync_members(member_ids: Iterable[int], years: Iterable[int]) -> set[tuple[int, int, int]]:
    """Bring the lines of these members and years in step with their timelines, bases and
    reliefs. Returns the (organisation, year, month) keys whose totals changed; the caller runs
    inside a transaction and calls `refresh_totals` with them (or let `sync` do both)."""
    member_ids = sorted(set(member_ids))
    years = sorted(set(years))
    owed_by_year = {year: expected(member_ids, year) for year in years}
    _hold_for_writes(member_ids, owed_by_year)
    touched: set[tuple[int, int, int]] = set()
    for year in years:
        owed = owed_by_year[year]
        bases = {
            b.member_id: b for b in DuesBase.objects.filter(member_id__in=member_ids, year=year)
        }
        reliefs: dict[int, list] = defaultdict(list)
        for relief in Relief.objects.filter(
            member_id__in=member_ids, year=year, state=ReliefState.APPROVED
        ):
            reliefs[relief.member_id].append(relief)
        existing = defaultdict(dict)
        for line in (
            LedgerLine.objects.select_for_update()
            .filter(member_id__in=member_ids, year=year)
            .order_by("member_id", "month")
        ):
            existing[line.member_id][line.month] = line
        paths = _paths(d.organization_id for dues in owed.values() for d in dues)
        create, update, delete = [], [], []
        for pk in member_ids:
            have = existing.get(pk, {})
            want = {d.month: d for d in owed.get(pk, [])}
            for month, line in have.items():
                if month not in want and line.paid == 0:
                    delete.append(line.pk)
                    touched.add((line.organization_id, year, month))
            for month, d in want.items():
                due, exempt = due_of(bases.get(pk), reliefs.get(pk, ()), year, month)
                line = have.get(month)
                if line is None:
                    create.append(
                        LedgerLine(
                            member_id=pk,
                            year=year,
                            month=month,
                            organization_id=d.organization_id,
                            org_path=paths[d.organization_id],
                            hosted=d.hosted,
                            due=due,
                            status=status_of(due, 0, exempt),
                        )
                    )
                    touched.add((d.organization_id, year, month))
                    continue
                changed = False
                if line.paid == 0 and line.organization_id != d.organization_id:
                    touched.add((line.organization_id, year, month))
                    line.organization_id = d.organization_id
                    line.org_path = paths[d.organization_id]
                    line.hosted = d.hosted
                    changed = True
                status = status_of(due, line.paid, exempt)
                if line.due != due or line.status != status:
                    line.due, line.status = due, status
                    changed = True
                if changed:
                    update.append(line)
                    touched.add((line.organization_id, year, month))
        if delete:
            # A line paid by a payment since reversed holds no money, only the reversed
            # allocation (which protects it): the months are not owed, the allocation goes.
            live = set(
                Allocation.objects.filter(
                    line_id__in=delete, payment__reversed_at__isnull=True
                ).values_list("line_id", flat=True)
            )
            delete = [pk for pk in delete if pk not in live]
            Allocation.objects.filter(line_id__in=delete).delete()
            LedgerLine.objects.filter(pk__in=delete).delete()
        if update:
            LedgerLine.objects.bulk_update(
                update, ["organization", "org_path", "hosted", "due", "status"], batch_size=1000
            )
        if create:
            LedgerLine.objects.bulk_create(create, batch_size=2000)
    return touched


def hold_keys(member_ids: Iterable[int], org_ids: Iterable[int]) -> None:
    """PostgreSQL: take KEY SHARE locks on these organisations, then these members, before any
    ledger line is locked. Writing a row that refers to them (a payment, a new line) takes
    the same locks anyway, but only then: a service holding ledger lines while it waits for a
    member a transfer holds, the transfer waiting for those lines, is a deadlock. Taken first,
    in the house order (organisations, then members, then lines), the two simply queue. KEY
    SHARE does not block other payments (nor ordinary updates of the rows)."""
    if connection.vendor != "postgresql":
        return
    org_ids, member_ids = sorted(set(org_ids) - {None}), sorted(set(member_ids) - {None})
    with connection.cursor() as cursor:
        if org_ids:
            cursor.execute(
                "SELECT id FROM core_organization WHERE id = ANY(%s) ORDER BY depth, id "
                "FOR KEY SHARE",
                [org_ids],
            )
        if member_ids:
            cursor.execute(
                "SELECT id FROM members_member WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE",
                [member_ids],
            )


def _hold_for_writes(member_ids: list[int], owed_by_year: dict) -> None:
    """Before `sync_members` locks any line: the organisations that lines will be created at
    or moved to, and the members who get new lines (read from the lines as they are, unlocked:
    a line moved meanwhile was moved by a transaction that has finished). Nothing when nothing
    is created or moved (a death, a base changed), so those take no lock they did not before."""
    if connection.vendor != "postgresql":
        return
    have = {
        (pk, year, month): org
        for pk, year, month, org in LedgerLine.objects.filter(
            member_id__in=member_ids, year__in=list(owed_by_year)
        ).values_list("member_id", "year", "month", "organization_id")
    }
    orgs, members = set(), set()
    for year, owed in owed_by_year.items():
        for pk, dues in owed.items():
            for d in dues:
                org = have.get((pk, year, d.month))
                if org != d.organization_id:
                    orgs.add(d.organization_id)
                if org is None:
                    members.add(pk)
    hold_keys(members, orgs)


def sync(member_ids: Iterable[int], years: Iterable[int]) -> None:
    with transaction.atomic():
        refresh_totals(sync_members(member_ids, years))


def years_with_lines(member_id: int) -> list[int]:
    return list(
        LedgerLine.objects.filter(member_id=member_id)
        .values_list("year", flat=True)
        .distinct()
        .order_by("year")
    )


# Month totals -------------------------------------------------------------------------------

_TOTALS_SQL = """
INSERT INTO dues_monthtotal (organization_id, org_path, year, month, lines, due, paid,
    paid_lines, partial_lines, exempt_lines, no_base_lines, voluntary, large_one_off)
SELECT l.organization_id, o.path, l.year, l.month, COUNT(*),
    COALESCE(SUM(l.due), 0), SUM(l.paid),
    SUM(CASE WHEN l.status = 'paid' THEN 1 ELSE 0 END),
    SUM(CASE WHEN l.status = 'partial' THEN 1 ELSE 0 END),
    SUM(CASE WHEN l.status = 'exempt' THEN 1 ELSE 0 END),
    SUM(CASE WHEN l.status = 'nobase' THEN 1 ELSE 0 END),
    0, 0
FROM dues_ledgerline l JOIN core_organization o ON o.id = l.organization_id
WHERE {where}
GROUP BY l.organization_id, o.path, l.year, l.month
ON CONFLICT (organization_id, year, month) DO UPDATE SET
    org_path = excluded.org_path, lines = excluded.lines, due = excluded.due,
    paid = excluded.paid, paid_lines = excluded.paid_lines,
    partial_lines = excluded.partial_lines, exempt_lines = excluded.exempt_lines,
    no_base_lines = excluded.no_base_lines
"""


def _store_voluntary(org_ids: set[int] | None, year: int, months: set[int] | None) -> None:
    """Voluntary payments (and the large one-off ones among them) by collecting organisation and
    month paid, into the totals rows."""
    from .models import MonthTotal

    payments = Payment.objects.filter(
        kind=PaymentKind.VOLUNTARY, reversed_at__isnull=True, paid_on__year=year
    )
    totals = MonthTotal.objects.filter(year=year)
    if org_ids is not None:
        payments = payments.filter(organization_id__in=org_ids)
        totals = totals.filter(organization_id__in=org_ids)
    if months is not None:
        payments = payments.filter(paid_on__month__in=months)
        totals = totals.filter(month__in=months)
    sums: dict[tuple[int, int], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for org_id, paid_on, amount, large in payments.values_list(
        "organization_id", "paid_on", "amount", "large_one_off"
    ):
        sums[(org_id, paid_on.month)][0] += amount
        if large:
            sums[(org_id, paid_on.month)][1] += amount
    # Only rows whose values change are written (see refresh_totals: a row written twice in a
    # transaction has its foreign key checked, which waits for a transfer holding the branch).
    have = {
        (org_id, month): (voluntary, large)
        for org_id, month, voluntary, large in totals.exclude(
            voluntary=0, large_one_off=0
        ).values_list("organization_id", "month", "voluntary", "large_one_off")
    }
    for org_id, month in set(have) - set(sums):
        MonthTotal.objects.filter(organization_id=org_id, year=year, month=month).update(
            voluntary=0, large_one_off=0
        )
    paths = _paths(org for org, _m in sums)
    for (org_id, month), (voluntary, large) in sums.items():
        if have.get((org_id, month)) == (voluntary, large):
            continue
        written = MonthTotal.objects.filter(organization_id=org_id, year=year, month=month).update(
            voluntary=voluntary, large_one_off=large
        )
        if not written:
            MonthTotal.objects.update_or_create(
                organization_id=org_id,
                year=year,
                month=month,
                defaults={
                    "org_path": paths[org_id],
                    "voluntary": voluntary,
                    "large_one_off": large,
                },
            )


def refresh_totals(keys: Iterable[tuple[int, int, int]]) -> None:
    """Recompute the totals rows of these (organisation, year, month) keys from the lines."""
    from .models import MonthTotal

    by_org_year: dict[tuple[int, int], set[int]] = defaultdict(set)
    for org_id, year, month in keys:
        by_org_year[(org_id, year)].add(month)
    with connection.cursor() as cursor:
        for (org_id, year), months in sorted(by_org_year.items()):
            marks = ", ".join(["%s"] * len(months))
            where = f"l.organization_id = %s AND l.year = %s AND l.month IN ({marks})"
            cursor.execute(_TOTALS_SQL.format(where=where), [org_id, year, *sorted(months)])
            # Then the rows whose lines are all gone are zeroed. In this order each row is
            # written once: PostgreSQL checks the foreign key of a row updated a second time in
            # one transaction (KEY SHARE on the organisation), which a payment holding ledger
            # lines must not wait for (a transfer holding the organisation wants those lines).
            lines_there = LedgerLine.objects.filter(
                organization_id=OuterRef("organization_id"),
                year=OuterRef("year"),
                month=OuterRef("month"),
            )
            MonthTotal.objects.filter(
                organization_id=org_id, year=year, month__in=months, lines__gt=0
            ).exclude(Exists(lines_there)).update(
                lines=0,
                due=0,
                paid=0,
                paid_lines=0,
                partial_lines=0,
                exempt_lines=0,
                no_base_lines=0,
            )
            _store_voluntary({org_id}, year, months)


def _subtree_ids(org: Organization) -> set[int]:
    top = org.path + "Z" * (255 - len(org.path))
    return set(
        Organization.objects.filter(path__gte=org.path, path__lte=top).values_list("pk", flat=True)
    )


def refresh_subtree_totals(year: int, org: Organization | None) -> None:
    """Recompute every totals row of a subtree's year (after generating its ledger)."""
    from .models import MonthTotal

    top = org.path + "Z" * (255 - len(org.path)) if org else None
    rows = MonthTotal.objects.filter(year=year)
    where, params = "l.year = %s", [year]
    if org is not None:
        rows = rows.filter(org_path__gte=org.path, org_path__lte=top)
        where += " AND l.org_path >= %s AND l.org_path <= %s"
        params += [org.path, top]
    rows.update(
        lines=0, due=0, paid=0, paid_lines=0, partial_lines=0, exempt_lines=0, no_base_lines=0
    )
    with connection.cursor() as cursor:
        cursor.execute(_TOTALS_SQL.format(where=where), params)
    org_ids = None
    if org is not None:
        org_ids = set(
            Organization.objects.filter(path__gte=org.path, path__lte=top).values_list(
                "pk", flat=True
            )
        )
    _store_voluntary(org_ids, year, None)


# Generating a year ---------------------------------------------------------------------------

_PLAIN_SQL = """
INSERT INTO dues_ledgerline (member_id, year, month, organization_id, org_path, hosted, due,
    paid, status, paid_on)
SELECT m.id, %s, months.m, m.organization_id, m.org_path, {false},
    COALESCE(b.override, b.computed), 0,
    CASE WHEN b.id IS NULL THEN 'nobase'
         WHEN COALESCE(b.override, b.computed) <= 0 THEN 'paid'
         ELSE 'unpaid' END,
    NULL
FROM members_member m
CROSS JOIN ({months}) months
LEFT JOIN dues_duesbase b ON b.member_id = m.id AND b.year = %s
WHERE m.status = 'active' AND m.id >= %s AND m.id < %s {subtree}
  AND NOT EXISTS (SELECT 1 FROM members_standingevent e
                  WHERE e.member_id = m.id AND e.occurred_on >= %s)
  AND NOT EXISTS (SELECT 1 FROM transfers_mobilestay s
                  WHERE s.member_id = m.id AND s.host_org_id IS NOT NULL AND s.since <= %s
                    AND (s.returned_on IS NULL OR s.returned_on > %s))
  AND NOT EXISTS (SELECT 1 FROM dues_relief r
                  WHERE r.member_id = m.id AND r.year = %s AND r.state = 'approved')
ON CONFLICT (member_id, year, month) DO NOTHING
"""


def _subtree_sql(org: Organization | None, column: str) -> tuple[str, list]:
    if org is None or not org.path:
        return "", []
    top = org.path + "Z" * (255 - len(org.path))
    return f" AND {column} >= %s AND {column} <= %s", [org.path, top]


def plain_members_sql(year: int, org: Organization | None, low: int, high: int):
    subtree, sub_params = _subtree_sql(org, "m.org_path")
    sql = _PLAIN_SQL.format(
        false="FALSE" if connection.vendor == "postgresql" else "0",
        months=MONTHS_SQL,
        subtree=subtree,
    )
    first, last = datetime.date(year, 1, 1), datetime.date(year, 12, 1)
    params = [year, year, low, high, *sub_params, first, last, first, year]
    return sql, params


def moving_members(year: int, org: Organization | None) -> list[int]:
    """Members whose year is not plain and who may owe a month in the subtree: a timeline event
    on or after 1 January (and, for a subtree, either in it now or placed in it by an event
    dated by the year's end: every placement names its organisation), a stay at a host of the
    platform during the year, or approved relief."""
    first, last = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
    events = StandingEvent.objects.filter(occurred_on__gte=first)
    stays = MobileStay.objects.filter(host_org__isnull=False, since__lte=last).filter(
        Q(returned_on__isnull=True) | Q(returned_on__gt=first)
    )
    reliefs = Relief.objects.filter(year=year, state=ReliefState.APPROVED)
    if org is not None and org.path:
        in_subtree = Organization.objects.filter(
            path__gte=org.path, path__lte=org.path + "Z" * (255 - len(org.path))
        ).values("pk")
        here = Member.objects.filter(organization__in=in_subtree).values("pk")
        placed = StandingEvent.objects.filter(
            organization__in=in_subtree, occurred_on__lte=last
        ).values("member_id")
        events = events.filter(Q(member__in=here) | Q(member__in=placed))
        stays = stays.filter(Q(member__in=here) | Q(host_org__in=in_subtree))
        reliefs = reliefs.filter(member__in=here)
    ids = set(events.values_list("member_id", flat=True))
    ids |= set(stays.exclude(member=None).values_list("member_id", flat=True))
    ids |= set(reliefs.values_list("member_id", flat=True))
    return sorted(ids)


def generate(
    year: int, org: Organization | None = None, *, progress=None, chunk: int = 50_000
) -> dict:
    """Write (or bring in step) the ledger of `year` for a subtree (the whole tree when None).
    Idempotent: running it twice changes nothing. Returns counts for the report."""
    if not 2000 <= year <= 2100:
        raise ValueError("year out of range")
    bounds = Member.objects.aggregate(low=Min("pk"), high=Max("pk"))
    low, high = bounds["low"] or 0, (bounds["high"] or 0) + 1
    moving = moving_members(year, org)
    steps = max((high - low + chunk - 1) // chunk, 0) + (len(moving) + 999) // 1000 + 1
    done = 0
    if progress:
        progress.total(steps)
    plain = 0
    with connection.cursor() as cursor:
        for start in range(low, high, chunk):
            sql, params = plain_members_sql(year, org, start, min(start + chunk, high))
            with transaction.atomic():
                cursor.execute(sql, params)
                plain += max(cursor.rowcount, 0)
            done += 1
            if progress:
                progress.advance(done)
    touched: set[tuple[int, int, int]] = set()
    for i in range(0, len(moving), 1000):
        with transaction.atomic():
            touched |= sync_members(moving[i : i + 1000], [year])
        done += 1
        if progress:
            progress.advance(done)
    with transaction.atomic():
        refresh_subtree_totals(year, org)
        # A moving member's months elsewhere (before a transfer in, at a host outside the
        # subtree) have totals outside it.
        if org is not None and org.path and touched:
            inside = _subtree_ids(org)
            refresh_totals({k for k in touched if k[0] not in inside})
    if progress:
        progress.advance(steps)
    return {"plain_lines": plain, "moving_members": len(moving), "lines": _lines_in(year, org)}


def _lines_in(year: int, org: Organization | None) -> int:
    """How many lines of the year the subtree collects, from the month totals just written (a
    few hundred rows, not millions of lines)."""
    from .models import MonthTotal

    totals = MonthTotal.objects.filter(year=year)
    if org is not None and org.path:
        top = org.path + "Z" * (255 - len(org.path))
        totals = totals.filter(org_path__gte=org.path, org_path__lte=top)
    return totals.aggregate(n=Sum("lines"))["n"] or 0


def paid_total(member_id: int, year: int) -> Decimal:
    return LedgerLine.objects.filter(member_id=member_id, year=year).aggregate(s=Sum("paid"))[
        "s"
    ] or Decimal(0)
