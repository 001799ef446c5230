"""Demo dues for `dangjian seed` (make run): bases for last year and this year, both years'
ledgers, most months paid, and the cases every dues page should show — a member six months
behind in each demo branch, a part payment, a large voluntary payment, relief awaiting the
township's sign-off and relief approved.

Bases, payments and their allocations for the whole tree are written in bulk (like the members
themselves; the audit log holds the seeding, not 100,000 payments); the demo accounts' own
actions go through the services, so the audit log shows them at work.
"""

import datetime
import random
from decimal import Decimal

from django.db import transaction

from dangjian.members.models import Member

from . import ledger, rules, services
from .models import Allocation, DuesBase, LedgerLine, Method, Payment, PaymentKind

PAID_SHARE = (0.86, 0.99)  # each branch's share of members paying each past month


def _category(rng: random.Random, birth: datetime.date, today: datetime.date):
    age = today.year - birth.year
    if age >= 60:
        return rules.RETIRED, Decimal(rng.randrange(2600, 9000, 50))
    if age <= 24 and rng.random() < 0.5:
        return rules.STUDENT, Decimal(0)
    roll = rng.random()
    if roll < 0.12:
        return rules.FARMER, Decimal(rng.choice(["0.20", "0.50", "1.00"]))
    if roll < 0.15:
        return rules.UNEMPLOYED, Decimal(0)
    return rules.IN_SERVICE, Decimal(rng.randrange(2200, 16000, 100))


def _bases(years, today, rng) -> int:
    rows = []
    for pk, birth in Member.objects.filter(status="active").values_list("pk", "birth_date"):
        category, base = _category(rng, birth, today)
        for year in years:
            on = datetime.date(year, 1, 1)
            amount = rules.monthly_dues(base, category, on)
            rows.append(
                DuesBase(
                    member_id=pk,
                    year=year,
                    category=category,
                    base=base.quantize(rules.CENT),
                    computed=amount,
                    rule_version=rules.rule_on(on).version,
                )
            )
    DuesBase.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    return len(rows)


def _pay_in_bulk(lines, today, rng, skip: set[int]) -> int:
    """Payments for the given lines, one per line, paid a few days into the month."""
    shares: dict[int, float] = {}
    payments, chosen = [], []
    for line in lines:
        if line.member_id in skip:
            continue
        share = shares.setdefault(line.organization_id, rng.uniform(*PAID_SHARE))
        current = (line.year, line.month) == (today.year, today.month)
        if rng.random() > (share * 0.45 if current else share):
            continue
        day = min(rng.randint(3, 20), 28)
        paid_on = min(datetime.date(line.year, line.month, day), today)
        payments.append(
            Payment(
                member_id=line.member_id,
                organization_id=line.organization_id,
                org_path=line.org_path,
                kind=PaymentKind.DUES,
                amount=line.due,
                paid_on=paid_on,
                method=Method.CASH if rng.random() < 0.6 else Method.BANK,
                request_key=f"demo:{line.pk}",
            )
        )
        line.paid, line.paid_on, line.status = line.due, paid_on, rules.PAID
        chosen.append(line)
    Payment.objects.bulk_create(payments, batch_size=2000)
    keys = dict(
        Payment.objects.filter(request_key__startswith="demo:").values_list("request_key", "pk")
    )
    for p in payments:
        p.pk = keys[p.request_key]
        p.receipt_no = services.receipt_number(p)
    Payment.objects.bulk_update(payments, ["receipt_no"], batch_size=2000)
    Allocation.objects.bulk_create(
        [Allocation(payment_id=keys[f"demo:{ln.pk}"], line=ln, amount=ln.due) for ln in chosen],
        batch_size=2000,
    )
    LedgerLine.objects.bulk_update(chosen, ["paid", "paid_on", "status"], batch_size=2000)
    return len(payments)


def seed_dues(users: dict, a_id: int, b_id: int, today: datetime.date, *, seed: int) -> dict:
    """Write the demo dues; returns counts for the seed report."""
    from dangjian.core.models import Organization

    rng = random.Random(f"dues-{seed}")
    years = [today.year - 1, today.year]
    with transaction.atomic():
        bases = _bases(years, today, rng)
        for year in years:
            ledger.generate(year, None)
    a = Organization.objects.get(pk=a_id)
    b = Organization.objects.get(pk=b_id)
    # The demo branches keep a member seven months behind (the arrears list) and the current
    # month open, so the secretaries have a month to record.
    behind = set()
    for org in (a, b):
        pk = (
            LedgerLine.objects.filter(organization=org, year=today.year, status=rules.UNPAID)
            .exclude(member__user__isnull=False)
            .order_by("-member_id")
            .values_list("member_id", flat=True)
            .first()
        )
        if pk:
            behind.add(pk)
    last = rules.from_index(rules.month_index(today.year, today.month) - 8)
    past = LedgerLine.objects.filter(status=rules.UNPAID).order_by("member_id", "year", "month")
    with transaction.atomic():
        lines = [
            ln
            for ln in past
            if (ln.year, ln.month) < (today.year, today.month)
            or (
                (ln.year, ln.month) == (today.year, today.month)
                and ln.organization_id not in (a_id, b_id)
            )
        ]
        # The member behind pays up to eight months ago, then stops.
        early = [ln for ln in lines if ln.member_id in behind and (ln.year, ln.month) <= last]
        paid = _pay_in_bulk(early, today, random.Random(0), set())
        paid += _pay_in_bulk(lines, today, rng, behind)
        for year in years:
            ledger.refresh_subtree_totals(year, None)
    done = {"bases": bases, "payments": paid, "behind": len(behind)}
    secretary_a, secretary_b = users.get("secretary_a"), users.get("secretary_b")
    if not secretary_a or not secretary_b:
        return done
    # Through the services, as the demo secretaries.
    a_members = list(
        Member.objects.filter(organization=a, status="active")
        .exclude(pk__in=behind)
        .order_by("pk")[:3]
    )
    if a_members:
        services.record_voluntary(
            actor=secretary_a,
            member=a_members[0],
            amount="2000.00",
            paid_on=today,
            method=Method.BANK,
            reference=f"DEMO-{today:%Y%m%d}-001",
            note="自愿多交党费",
        )
    if len(a_members) > 1:
        services.request_relief(
            actor=secretary_a,
            member=a_members[1],
            year=today.year,
            from_month=today.month,
            to_month=12,
            kind="exempt",
            reason="重病住院，生活困难",
            branch_decided_on=today - datetime.timedelta(days=2),
            branch_reference="支委会记录",
        )
        done["reliefs"] = 1
    return done
