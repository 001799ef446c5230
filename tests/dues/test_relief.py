"""Hardship reduction or exemption (DOMAIN §2): the branch records its approval, the committee
above signs it off (or not, saying why); only then do the lines change. Overlapping relief for
the same months is refused."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from dangjian.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from dangjian.core.models import AuditEvent
from dangjian.dues import ledger, selectors, services
from dangjian.dues.models import LedgerLine, Relief

from .invariants import assert_totals_match

pytestmark = pytest.mark.django_db

YEAR = 2026
D = datetime.date


def ask(actor, member, first=3, last=5, **extra):
    values = {
        "kind": "exempt",
        "reason": "因病无收入",
        "branch_decided_on": D(2026, 2, 20),
        "branch_reference": "支委会纪要 2026-2",
        **extra,
    }
    return services.request_relief(
        actor=actor, member=member, year=YEAR, from_month=first, to_month=last, **values
    )


@pytest.fixture
def generated(roster, admin, tree):
    services.declare_base(
        actor=admin, member=roster["zhang"], year=YEAR, category="in_service", base="3000"
    )
    ledger.generate(YEAR, tree["branch_a"])
    return roster


def statuses(member) -> dict:
    return dict(LedgerLine.objects.filter(member=member, year=YEAR).values_list("month", "status"))


def test_the_branch_requests(generated, people, tree):
    relief = ask(people["alice"], generated["zhang"], kind="reduce", amount="5")
    relief.refresh_from_db()
    assert relief.state == "pending"
    assert (relief.organization, relief.requested_by) == (tree["branch_a"], people["alice"])
    assert (relief.kind, relief.amount, relief.from_month, relief.to_month) == (
        "reduce",
        Decimal("5.00"),
        3,
        5,
    )
    assert relief.branch_reference == "支委会纪要 2026-2"
    event = AuditEvent.objects.get(action="dues.relief.request")
    assert event.after["kind"] == "reduce" and event.after["state"] == "pending"
    assert set(statuses(generated["zhang"]).values()) == {"unpaid"}  # nothing yet


def test_only_the_committee_above_signs(generated, people):
    relief = ask(people["alice"], generated["zhang"])
    # The branch approved it: it cannot sign its own request.
    with pytest.raises(Forbidden):
        services.sign_relief(actor=people["alice"], relief=relief, approve=True)
    # The sibling branch does not even see it.
    with pytest.raises(NotFound):
        services.sign_relief(actor=people["bob"], relief=relief, approve=True)
    assert Relief.objects.get(pk=relief.pk).state == "pending"
    assert list(selectors.reliefs_to_sign(people["oscar"])) == [relief]
    assert list(selectors.reliefs_to_sign(people["alice"])) == []
    assert list(selectors.reliefs_to_sign(people["bob"])) == []
    signed = services.sign_relief(actor=people["oscar"], relief=relief, approve=True, note="同意")
    assert (signed.state, signed.signed_by, signed.signed_on, signed.sign_note) == (
        "approved",
        people["oscar"],
        timezone.localdate(),
        "同意",
    )
    assert AuditEvent.objects.filter(action="dues.relief.sign", user=people["oscar"]).exists()
    assert [statuses(generated["zhang"])[m] for m in (2, 3, 4, 5, 6)] == [
        "unpaid",
        "exempt",
        "exempt",
        "exempt",
        "unpaid",
    ]
    assert list(selectors.reliefs_to_sign(people["oscar"])) == []
    assert_totals_match()


def test_a_decided_relief_is_not_decided_again(generated, people):
    relief = ask(people["alice"], generated["zhang"])
    services.sign_relief(actor=people["oscar"], relief=relief, approve=True)
    with pytest.raises(Conflict) as caught:
        services.sign_relief(actor=people["oscar"], relief=relief, approve=False, note="撤回")
    assert caught.value.code == "already_decided"


def test_a_rejection_needs_a_note(generated, people):
    relief = ask(people["alice"], generated["zhang"])
    with pytest.raises(ValidationFailed) as caught:
        services.sign_relief(actor=people["oscar"], relief=relief, approve=False, note="  ")
    assert caught.value.field == "note"
    assert Relief.objects.get(pk=relief.pk).state == "pending"
    rejected = services.sign_relief(
        actor=people["oscar"], relief=relief, approve=False, note="证明材料不全"
    )
    assert (rejected.state, rejected.sign_note) == ("rejected", "证明材料不全")
    assert AuditEvent.objects.get(action="dues.relief.reject").after["state"] == "rejected"
    assert set(statuses(generated["zhang"]).values()) == {"unpaid"}
    # Rejected: the same months may be asked for again, with better papers.
    assert ask(people["alice"], generated["zhang"]).state == "pending"


@pytest.mark.parametrize(
    ("first", "last", "refused"),
    [(5, 7, True), (1, 3, True), (4, 4, True), (1, 12, True), (6, 7, False), (1, 2, False)],
)
def test_overlapping_relief_is_refused(generated, people, first, last, refused):
    ask(people["alice"], generated["zhang"], 3, 5)
    if refused:
        with pytest.raises(Conflict) as caught:
            ask(people["alice"], generated["zhang"], first, last)
        assert (caught.value.code, caught.value.field) == ("relief_overlaps", "from_month")
        assert Relief.objects.count() == 1
    else:
        ask(people["alice"], generated["zhang"], first, last)
        assert Relief.objects.count() == 2


def test_approved_relief_blocks_overlap_too(generated, people):
    relief = ask(people["alice"], generated["zhang"], 3, 5)
    services.sign_relief(actor=people["oscar"], relief=relief, approve=True)
    with pytest.raises(Conflict):
        ask(people["alice"], generated["zhang"], 5, 5)


@pytest.mark.parametrize(
    ("first", "last", "extra", "code", "field"),
    [
        (5, 3, {}, "invalid_range", "to_month"),
        (0, 3, {}, "invalid_month", "from_month"),
        (3, 13, {}, "invalid_month", "to_month"),
        (3, 5, {"kind": "waive"}, "invalid_kind", "kind"),
        (3, 5, {"kind": "reduce"}, "invalid_amount", "amount"),
        (3, 5, {"kind": "reduce", "amount": "-1"}, "invalid_amount", "amount"),
        (3, 5, {"reason": " "}, None, "reason"),
        (3, 5, {"branch_decided_on": D(2026, 11, 26)}, "invalid_date", "branch_decided_on"),
        (3, 5, {"branch_decided_on": None}, "invalid_date", "branch_decided_on"),
    ],
)
def test_a_request_needs_its_facts(generated, people, first, last, extra, code, field):
    with pytest.raises(ValidationFailed) as caught:
        ask(people["alice"], generated["zhang"], first, last, **extra)
    assert caught.value.field == field
    if code:
        assert caught.value.code == code
    assert not Relief.objects.exists()


def test_a_date_and_time_of_the_branchs_decision_is_its_date(generated, people):
    relief = ask(
        people["alice"], generated["zhang"], branch_decided_on=datetime.datetime(2026, 2, 20, 15)
    )
    assert Relief.objects.get(pk=relief.pk).branch_decided_on == D(2026, 2, 20)


def test_relief_signed_before_the_ledger_exists_waits_for_it(roster, people, admin, tree):
    """Signing off writes no lines for a year not generated: generation applies the relief."""
    zhang = roster["zhang"]
    services.declare_base(actor=admin, member=zhang, year=YEAR, category="retired", base="4000")
    relief = ask(people["alice"], zhang, 1, 2)
    services.sign_relief(actor=people["oscar"], relief=relief, approve=True)
    assert not LedgerLine.objects.filter(member=zhang).exists()
    ledger.generate(YEAR, tree["branch_a"])
    assert statuses(zhang)[1] == "exempt" and statuses(zhang)[3] == "unpaid"
    assert_totals_match()


def test_exempt_members_report(generated, people, tree):
    relief = ask(people["alice"], generated["zhang"])
    assert list(selectors.exempt_members(people["oscar"], tree["town"], YEAR)) == []
    services.sign_relief(actor=people["oscar"], relief=relief, approve=True)
    assert list(selectors.exempt_members(people["oscar"], tree["town"], YEAR)) == [relief]
    assert list(selectors.exempt_members(people["bob"], tree["town"], YEAR)) == []
