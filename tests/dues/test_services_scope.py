"""Every dues service tried by the three people, and by a plain member: alice (secretary of
branch A) and oscar (the committee above A) act on A's members; bob (secretary of sibling
branch B) is told nothing exists (NotFound); a member-role user of A is refused (Forbidden where
they may see the organisation, NotFound otherwise). A refused call writes nothing, and nothing
it answers says what is recorded."""

import datetime

import pytest

from dangjian.core import services as core_services
from dangjian.core.errors import Conflict, Forbidden, NotFound
from dangjian.core.models import AuditEvent
from dangjian.dues import ledger, selectors, services
from dangjian.dues.models import ArrearsDecision, DuesBase, LedgerLine, Payment, Relief

pytestmark = pytest.mark.django_db

YEAR = 2026
D = datetime.date


@pytest.fixture
def plain(make_user, admin, tree, roster):
    """A member-role user at branch A, who is 张三 himself."""
    user = make_user("zhangsan")
    core_services.assign_role(actor=admin, user=user, org=tree["branch_a"], role="member")
    zhang = roster["zhang"]
    zhang.user = user
    zhang.save(update_fields=["user"])
    return user


@pytest.fixture
def world(roster, admin, tree, people):
    """2025 and 2026 ledgers for the town; 张三 behind since January 2025; one payment of his on
    record with a bank reference; a relief of his waiting to be signed."""
    for year in (2025, YEAR):
        services.declare_base(
            actor=admin, member=roster["zhang"], year=year, category="in_service", base="3000"
        )
        ledger.generate(year, tree["town"])
    payment = services.record_payment(
        actor=people["alice"],
        member=roster["zhang"],
        months=[(YEAR, 11)],
        paid_on=D(2026, 11, 20),
        method="bank",
        reference="ICBC-SECRET",
    )
    relief = services.request_relief(
        actor=people["alice"],
        member=roster["zhang"],
        year=YEAR,
        from_month=12,
        to_month=12,
        kind="exempt",
        reason="困难",
        branch_decided_on=D(2026, 11, 1),
    )
    return {"zhang": roster["zhang"], "payment": payment, "relief": relief}


def calls(world, tree):
    """name -> call(actor): every service, on branch A's member or organisation."""
    zhang, a = world["zhang"], tree["branch_a"]
    return {
        "declare_base": lambda u: services.declare_base(
            actor=u, member=zhang, year=YEAR, category="in_service", base="3200"
        ),
        "declare_bases": lambda u: services.declare_bases(
            actor=u, org=a, year=YEAR, rows=[{"member": zhang, "category": "student"}]
        ),
        "request_relief": lambda u: services.request_relief(
            actor=u,
            member=zhang,
            year=YEAR,
            from_month=1,
            to_month=1,
            kind="exempt",
            reason="困难",
            branch_decided_on=D(2026, 1, 5),
        ),
        "sign_relief": lambda u: services.sign_relief(
            actor=u, relief=world["relief"], approve=True
        ),
        "start_generation": lambda u: services.start_generation(actor=u, org=a, year=YEAR),
        "generate_now": lambda u: services.generate_now(actor=u, org=a, year=YEAR),
        "record_payment": lambda u: services.record_payment(
            actor=u,
            member=zhang,
            months=[(YEAR, 10)],
            paid_on=D(2026, 11, 20),
            method="cash",
        ),
        "record_payment_replayed": lambda u: services.record_payment(
            actor=u,
            member=zhang,
            months=[(YEAR, 11)],
            paid_on=D(2026, 11, 20),
            method="bank",
            reference="ICBC-SECRET",
        ),
        "record_payment_no_line": lambda u: services.record_payment(
            actor=u, member=zhang, months=[(2024, 1)], paid_on=D(2026, 11, 20), method="cash"
        ),
        "record_month": lambda u: services.record_month(
            actor=u,
            org=a,
            year=YEAR,
            month=10,
            member_ids=[zhang.pk],
            paid_on=D(2026, 11, 20),
        ),
        "record_voluntary": lambda u: services.record_voluntary(
            actor=u, member=zhang, amount="100", paid_on=D(2026, 11, 20), method="cash"
        ),
        "reverse_payment": lambda u: services.reverse_payment(
            actor=u, payment=world["payment"], reason="错"
        ),
        "decide_arrears": lambda u: services.decide_arrears(
            actor=u, member=zhang, outcome="warned", meeting_on=D(2026, 11, 20), on=D(2026, 11, 20)
        ),
        "remind_behind": lambda u: services.remind_behind(actor=u, org=a, year=YEAR, month=10),
    }


NAMES = [
    "declare_base",
    "declare_bases",
    "request_relief",
    "sign_relief",
    "start_generation",
    "generate_now",
    "record_payment",
    "record_payment_replayed",
    "record_payment_no_line",
    "record_month",
    "record_voluntary",
    "reverse_payment",
    "decide_arrears",
    "remind_behind",
]


def state() -> tuple:
    return (
        list(DuesBase.objects.order_by("pk").values_list("pk", "category", "base", "override")),
        list(Relief.objects.order_by("pk").values_list("pk", "state")),
        list(Payment.objects.order_by("pk").values_list("pk", "reversed_at")),
        list(LedgerLine.objects.order_by("pk").values_list("pk", "paid", "status")),
        ArrearsDecision.objects.count(),
        AuditEvent.objects.filter(action__startswith="dues.").count(),
    )


@pytest.mark.parametrize("name", NAMES)
def test_the_sibling_branch_is_told_nothing_exists(world, people, tree, name):
    before = state()
    with pytest.raises(NotFound):
        calls(world, tree)[name](people["bob"])
    assert state() == before


@pytest.mark.parametrize("name", NAMES)
def test_a_member_role_user_is_refused(world, plain, tree, name):
    before = state()
    with pytest.raises((Forbidden, NotFound)):
        calls(world, tree)[name](plain)
    assert state() == before


@pytest.mark.parametrize(
    "name",
    [n for n in NAMES if n not in ("record_payment_no_line",)],
)
def test_the_committee_above_may_act(world, people, tree, name):
    calls(world, tree)[name](people["oscar"])


def test_the_branch_itself_may_do_all_but_sign_its_own_relief(world, people, tree):
    alice = people["alice"]
    # Decided before a payment breaks 张三's run of unpaid months.
    for name in sorted(NAMES, key=lambda n: n != "decide_arrears"):
        if name in ("sign_relief", "record_payment_no_line"):
            continue
        calls(world, tree)[name](alice)
    with pytest.raises(Forbidden):
        calls(world, tree)["sign_relief"](alice)


# Reads ---------------------------------------------------------------------------------------


def test_reads_are_scoped(world, people, tree, plain):
    bob, alice, oscar = people["bob"], people["alice"], people["oscar"]
    zhang = world["zhang"]
    a_lines = LedgerLine.objects.filter(organization=tree["branch_a"]).count()
    assert selectors.lines(alice).filter(member=zhang).count() == 24
    assert selectors.lines(oscar).count() == LedgerLine.objects.count()
    assert not selectors.lines(bob).filter(member=zhang).exists()
    assert selectors.lines(bob).count() == LedgerLine.objects.count() - a_lines
    assert not selectors.lines(plain).exists()
    assert not selectors.payments(bob).exists() and not selectors.payments(plain).exists()
    assert selectors.get_payment(alice, world["payment"].pk) == world["payment"]
    with pytest.raises(NotFound):
        selectors.get_payment(bob, world["payment"].pk)
    with pytest.raises(NotFound):
        selectors.get_payment(bob, "abc")
    # The member sees their own receipt, lines and payments, and nobody else's.
    assert selectors.get_payment(plain, world["payment"].pk) == world["payment"]
    assert selectors.own_lines(plain, YEAR).count() == 12
    assert list(selectors.own_payments(plain)) == [world["payment"]]
    assert not selectors.own_lines(bob, YEAR).exists()
    assert not selectors.bases(bob).filter(member=zhang).exists()
    assert selectors.bases(alice).filter(member=zhang).count() == 2
    with pytest.raises(NotFound):
        selectors.get_relief(bob, world["relief"].pk)
    assert selectors.get_relief(oscar, world["relief"].pk) == world["relief"]
    report = selectors.collection_report(bob, tree["town"], YEAR)
    assert all(
        child["org"] != tree["branch_a"] or child["total"]["lines"] == 0
        for child in report["children"]
    )
    assert selectors.arrears(bob, tree["town"], D(2026, 11, 25)) == []
    assert [r["member"] for r in selectors.arrears(oscar, tree["town"], D(2026, 11, 25))] == [zhang]


# A bank reference belongs to the organisation that collected it -----------------------------


def test_another_branch_records_its_own_payment_under_the_same_bank_serial(world, people, roster):
    """Two branches' banks may well number their transfers alike. Branch B's genuine payment is
    recorded, and nothing B is told names A's receipt."""
    bob, zhao = people["bob"], roster["zhao"]
    services.declare_base(actor=bob, member=zhao, year=YEAR, category="in_service", base="3000")
    a_receipt = world["payment"].receipt_no
    mine = services.record_payment(
        actor=bob,
        member=zhao,
        months=[(YEAR, 11)],
        paid_on=D(2026, 11, 20),
        method="bank",
        reference="ICBC-SECRET",
    )
    assert mine.pk != world["payment"].pk and mine.organization == zhao.organization
    assert LedgerLine.objects.get(member=zhao, year=YEAR, month=11).status == "paid"
    # The same serial again at B, for other months: refused with B's own receipt, never A's.
    with pytest.raises(Conflict) as caught:
        services.record_payment(
            actor=bob,
            member=zhao,
            months=[(YEAR, 10)],
            paid_on=D(2026, 11, 20),
            method="bank",
            reference="ICBC-SECRET",
        )
    assert caught.value.code == "duplicate_reference"
    assert mine.receipt_no in caught.value.message
    assert a_receipt not in caught.value.message
    # And A replaying its own payment still gets A's.
    again = services.record_payment(
        actor=people["alice"],
        member=world["zhang"],
        months=[(YEAR, 11)],
        paid_on=D(2026, 11, 20),
        method="bank",
        reference="ICBC-SECRET",
    )
    assert again.pk == world["payment"].pk


def test_a_voluntary_payment_under_another_branchs_serial_is_recorded(world, people, roster):
    paid = services.record_voluntary(
        actor=people["bob"],
        member=roster["qian"],
        amount="100",
        paid_on=D(2026, 11, 20),
        method="bank",
        reference="ICBC-SECRET",
    )
    assert paid.pk != world["payment"].pk and paid.kind == "voluntary"


def test_the_database_keeps_a_reference_unique_per_organisation(world, tree):
    from django.db import IntegrityError, transaction

    first = world["payment"]
    common = {
        "member": first.member,
        "amount": "1.00",
        "paid_on": D(2026, 11, 20),
        "method": "bank",
        "reference": "ICBC-SECRET",
    }
    b = tree["branch_b"]
    Payment.objects.create(organization=b, org_path=b.path, **common)  # another organisation
    with pytest.raises(IntegrityError), transaction.atomic():
        a = tree["branch_a"]
        Payment.objects.create(organization=a, org_path=a.path, **common)
