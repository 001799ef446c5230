"""Recording dues: in full, in part, several months, in advance (approved), late (confirmed), by
proxy (approved), online (with a reference); recorded once whatever is replayed; reversed with
the months owed again; voluntary payments apart; every change in the audit log."""

import datetime
from decimal import Decimal

import pytest

from dangjian.core.errors import Conflict, ValidationFailed
from dangjian.core.models import AuditEvent
from dangjian.dues import ledger, services
from dangjian.dues.models import Allocation, LedgerLine, MonthTotal, Payment

from .invariants import assert_totals_match

pytestmark = pytest.mark.django_db

YEAR = 2026
D = datetime.date


@pytest.fixture
def ready(roster, admin, tree):
    """2026 and 2025 ledgers of A and B; 张三 15.00 a month, 王五 25.00, 赵六 120.00; 李四 has
    no base."""
    for year in (2025, YEAR):
        for name, category, base in [
            ("zhang", "in_service", "3000"),
            ("wang", "retired", "5000"),
            ("zhao", "in_service", "8000"),
            ("qian", "farmer", "1"),
        ]:
            services.declare_base(
                actor=admin, member=roster[name], year=year, category=category, base=base
            )
        ledger.generate(year, tree["town"])
    return roster


NOV_20 = D(2026, 11, 20)


def pay(actor, member, months, paid_on=NOV_20, method="cash", **extra):
    return services.record_payment(
        actor=actor, member=member, months=months, paid_on=paid_on, method=method, **extra
    )


def line(member, month, year=YEAR) -> LedgerLine:
    return LedgerLine.objects.get(member=member, year=year, month=month)


def actions(after: int = 0) -> list[str]:
    events = AuditEvent.objects.filter(id__gt=after).order_by("id")
    return list(events.values_list("action", flat=True))


def failure(exc_type, call) -> tuple:
    with pytest.raises(exc_type) as caught:
        call()
    return caught.value.code, caught.value.field


# One month, part of one, several -------------------------------------------------------------


def test_a_month_paid_in_full(ready, people):
    zhang, alice = ready["zhang"], people["alice"]
    p = pay(alice, zhang, [(YEAR, 1)], paid_on=D(2026, 1, 9))
    assert (p.amount, p.kind, p.method, p.paid_on) == (
        Decimal("15.00"),
        "dues",
        "cash",
        D(2026, 1, 9),
    )
    assert p.receipt_no == f"DF2026{p.pk:010d}"
    assert Payment.objects.get(pk=p.pk).receipt_no == p.receipt_no
    assert p.recorded_by == alice and p.organization == zhang.organization
    jan = line(zhang, 1)
    assert (jan.paid, jan.paid_on, jan.status) == (Decimal("15.00"), D(2026, 1, 9), "paid")
    assert list(Allocation.objects.filter(payment=p).values_list("line_id", "amount")) == [
        (jan.pk, Decimal("15.00"))
    ]
    event = AuditEvent.objects.get(action="dues.payment.record")
    assert event.after["months"] == ["2026-01"] and event.after["amount"] == "15.00"
    assert event.subject == f"members.member:{zhang.pk}"
    assert event.user_id == alice.pk and event.org_path == zhang.org_path
    assert_totals_match()


def test_a_month_paid_in_part_then_the_rest(ready, people):
    zhang, alice = ready["zhang"], people["alice"]
    pay(alice, zhang, [(YEAR, 2)], amount="5", paid_on=D(2026, 2, 3))
    feb = line(zhang, 2)
    assert (feb.paid, feb.status, feb.remaining) == (Decimal("5.00"), "partial", Decimal("10.00"))
    assert_totals_match()
    rest = pay(alice, zhang, [(YEAR, 2)], paid_on=D(2026, 2, 20))
    assert rest.amount == Decimal("10.00")  # without an amount: what is left
    feb.refresh_from_db()
    assert (feb.paid, feb.status, feb.paid_on) == (Decimal("15.00"), "paid", D(2026, 2, 20))
    assert Allocation.objects.filter(line=feb).count() == 2
    code, field = failure(Conflict, lambda: pay(alice, zhang, [(YEAR, 2)]))
    assert (code, field) == ("already_paid", "months")
    assert_totals_match()


def test_several_months_at_once(ready, people):
    zhang, alice = ready["zhang"], people["alice"]
    p = pay(alice, zhang, [(YEAR, 5), (YEAR, 3), (YEAR, 4)], paid_on=D(2026, 5, 30))
    assert p.amount == Decimal("45.00")
    assert {x.month for x in LedgerLine.objects.filter(member=zhang, status="paid")} == {3, 4, 5}
    assert Allocation.objects.filter(payment=p).count() == 3
    assert AuditEvent.objects.get(action="dues.payment.record").after["months"] == [
        "2026-03",
        "2026-04",
        "2026-05",
    ]
    assert_totals_match()


def test_months_across_a_year_end(ready, people):
    zhang, alice = ready["zhang"], people["alice"]
    p = pay(alice, zhang, [(2025, 12), (YEAR, 1)], paid_on=D(2026, 1, 15))
    assert p.amount == Decimal("30.00")
    assert line(zhang, 12, 2025).status == line(zhang, 1).status == "paid"
    assert_totals_match()


def test_several_months_are_paid_in_full_or_not_at_all(ready, people):
    code, field = failure(
        ValidationFailed,
        lambda: pay(people["alice"], ready["zhang"], [(YEAR, 3), (YEAR, 4)], amount="20"),
    )
    assert (code, field) == ("partial_months", "amount")
    assert not Payment.objects.exists()


@pytest.mark.parametrize("amount", ["15.01", "16", "1000"])
def test_paying_more_than_owed_is_refused(ready, people, amount):
    code, field = failure(
        ValidationFailed, lambda: pay(people["alice"], ready["zhang"], [(YEAR, 1)], amount=amount)
    )
    assert (code, field) == ("overpaid", "amount")
    assert line(ready["zhang"], 1).paid == 0
    assert (
        not Payment.objects.exists()
        and not AuditEvent.objects.filter(action__startswith="dues.payment").exists()
    )


@pytest.mark.parametrize("amount", ["0", "-5", "abc", "1.001", "NaN", True])
def test_a_bad_amount_names_the_field(ready, people, amount):
    code, field = failure(
        ValidationFailed, lambda: pay(people["alice"], ready["zhang"], [(YEAR, 1)], amount=amount)
    )
    assert (code, field) == ("invalid_amount", "amount")


@pytest.mark.parametrize(
    ("months", "code"),
    [
        ([], "required"),
        ([(YEAR, 13)], "invalid_month"),
        ([("x", 1)], "invalid_month"),
        ([(2024, 5)], "no_ledger_line"),  # no ledger for 2024
        ([(YEAR + i // 12, i % 12 + 1) for i in range(25)], "too_many_months"),
    ],
)
def test_months_that_cannot_be_paid(ready, people, months, code):
    found, field = failure(ValidationFailed, lambda: pay(people["alice"], ready["zhang"], months))
    assert (found, field) == (code, "months")


def test_a_member_without_a_base_cannot_pay_dues_yet(ready, people):
    code, _f = failure(ValidationFailed, lambda: pay(people["alice"], ready["li"], [(YEAR, 1)]))
    assert code == "no_base"


@pytest.mark.parametrize(
    ("paid_on", "code"),
    [(D(2026, 11, 26), "future_date"), (None, "required"), ("2026-01-05", "required")],
)
def test_the_date_paid(ready, people, paid_on, code):
    found, field = failure(
        ValidationFailed, lambda: pay(people["alice"], ready["zhang"], [(YEAR, 1)], paid_on=paid_on)
    )
    assert (found, field) == (code, "paid_on")


def test_a_date_and_time_paid_counts_as_its_date(ready, people):
    p = pay(people["alice"], ready["zhang"], [(YEAR, 1)], paid_on=datetime.datetime(2026, 1, 9, 10))
    assert Payment.objects.get(pk=p.pk).paid_on == D(2026, 1, 9)


# Advance, late, proxy, online ----------------------------------------------------------------


def test_paying_in_advance_needs_the_branchs_approval(ready, people):
    zhang, alice = ready["zhang"], people["alice"]
    code, field = failure(ValidationFailed, lambda: pay(alice, zhang, [(YEAR, 11), (YEAR, 12)]))
    assert (code, field) == ("approval_required", "approval")
    assert not Payment.objects.exists()
    p = pay(alice, zhang, [(YEAR, 11), (YEAR, 12)], approval="支委会 2026-11-18")
    assert p.approval == "支委会 2026-11-18"
    assert line(zhang, 12).status == "paid"
    assert_totals_match()


def test_the_current_month_is_not_in_advance(ready, people):
    pay(people["alice"], ready["zhang"], [(YEAR, 11)], paid_on=D(2026, 11, 1))
    assert line(ready["zhang"], 11).status == "paid"


def test_paying_more_than_six_months_back_needs_confirming(ready, people):
    zhang, alice = ready["zhang"], people["alice"]
    # Paid on 20 November: May is six months back (normal), April seven (warn).
    pay(alice, zhang, [(YEAR, 5)])
    code, field = failure(ValidationFailed, lambda: pay(alice, zhang, [(YEAR, 4)]))
    assert (code, field) == ("late_payment", "months")
    code, _f = failure(ValidationFailed, lambda: pay(alice, zhang, [(2025, 11), (2025, 12)]))
    assert code == "late_payment"
    p = pay(alice, zhang, [(YEAR, 4)], confirm_late=True)
    assert line(zhang, 4).status == "paid"
    assert AuditEvent.objects.get(object_id=str(p.pk), action="dues.payment.record").after["late"]
    assert_totals_match()


def test_paying_by_proxy_needs_the_branchs_approval(ready, people):
    zhang, alice = ready["zhang"], people["alice"]
    code, field = failure(
        ValidationFailed, lambda: pay(alice, zhang, [(YEAR, 10)], proxy_name="张三之妻")
    )
    assert (code, field) == ("approval_required", "approval")
    p = pay(alice, zhang, [(YEAR, 10)], proxy_name="张三之妻", approval="支部同意")
    assert (p.proxy_name, p.approval) == ("张三之妻", "支部同意")


def test_an_online_payment_needs_its_reference(ready, people):
    zhang, alice = ready["zhang"], people["alice"]
    code, field = failure(
        ValidationFailed, lambda: pay(alice, zhang, [(YEAR, 10)], method="online")
    )
    assert (code, field) == ("reference_required", "reference")
    code, field = failure(
        ValidationFailed, lambda: pay(alice, zhang, [(YEAR, 10)], method="cheque")
    )
    assert (code, field) == ("invalid_method", "method")
    p = pay(alice, zhang, [(YEAR, 10)], method="online", reference="WX4200001234")
    assert (p.method, p.reference) == ("online", "WX4200001234")


# Recorded once -------------------------------------------------------------------------------


def test_the_same_reference_twice_records_once(ready, people):
    zhang, alice = ready["zhang"], people["alice"]
    first = pay(alice, zhang, [(YEAR, 9)], method="bank", reference="ICBC-778899")
    again = pay(alice, zhang, [(YEAR, 9)], method="bank", reference="ICBC-778899")
    assert again.pk == first.pk
    # Asked for other months, the bank's reference is not this payment: refused, not a
    # success that records nothing.
    code, field = failure(
        Conflict, lambda: pay(alice, zhang, [(YEAR, 10)], method="bank", reference="ICBC-778899")
    )
    assert (code, field) == ("duplicate_reference", "reference")
    assert Payment.objects.count() == 1
    assert line(zhang, 10).status == "unpaid"
    assert actions().count("dues.payment.record") == 1


def test_a_reference_already_used_for_another_member_is_refused(ready, people):
    alice = people["alice"]
    pay(alice, ready["zhang"], [(YEAR, 9)], method="online", reference="ALI-1")
    code, field = failure(
        Conflict, lambda: pay(alice, ready["wang"], [(YEAR, 9)], method="online", reference="ALI-1")
    )
    assert (code, field) == ("duplicate_reference", "reference")
    assert line(ready["wang"], 9).status == "unpaid"
    # The same reference under another method is another payment.
    pay(alice, ready["wang"], [(YEAR, 9)], method="bank", reference="ALI-1")
    assert Payment.objects.count() == 2


def test_the_same_request_key_is_the_same_payment(ready, people):
    zhang, alice = ready["zhang"], people["alice"]
    first = pay(alice, zhang, [(YEAR, 8)], request_key="form-42")
    again = pay(alice, zhang, [(YEAR, 8)], request_key="form-42")
    assert again.pk == first.pk
    assert Payment.objects.count() == 1 and line(zhang, 8).paid == Decimal("15.00")
    code, _f = failure(
        Conflict, lambda: pay(alice, ready["wang"], [(YEAR, 8)], request_key="form-42")
    )
    assert code == "request_reused"
    assert actions().count("dues.payment.record") == 1


def test_a_reversed_payment_frees_its_reference(ready, people):
    """Recorded in error (the wrong months, say), reversed, and recorded again rightly: the
    reference moves aside on the reversed payment and serves the new one."""
    zhang, alice = ready["zhang"], people["alice"]
    p = pay(alice, zhang, [(YEAR, 9)], method="bank", reference="ICBC-1")
    services.reverse_payment(actor=alice, payment=p, reason="月份记错")
    p.refresh_from_db()
    assert (p.reference, p.reversed_reference, p.original_reference) == ("", "ICBC-1", "ICBC-1")
    event = AuditEvent.objects.get(action="dues.payment.reverse")
    assert event.after["reversed_reference"] == "ICBC-1" and event.after["reference"] == ""
    again = pay(alice, zhang, [(YEAR, 8)], method="bank", reference="ICBC-1")
    assert again.pk != p.pk and again.reference == "ICBC-1"
    assert line(zhang, 8).status == "paid" and line(zhang, 9).status == "unpaid"
    # Now the new payment is the one the reference names.
    assert pay(alice, zhang, [(YEAR, 8)], method="bank", reference="ICBC-1").pk == again.pk
    assert_totals_match()


def test_recording_a_month_for_many_members(ready, people, tree):
    alice, a = people["alice"], tree["branch_a"]
    ids = [ready["zhang"].pk, ready["wang"].pk]
    result = services.record_month(
        actor=alice, org=a, year=YEAR, month=10, member_ids=ids, paid_on=D(2026, 10, 30)
    )
    assert result == {"recorded": 2, "skipped": 0}
    assert {p.member_id: p.amount for p in Payment.objects.all()} == {
        ready["zhang"].pk: Decimal("15.00"),
        ready["wang"].pk: Decimal("25.00"),
    }
    assert all(p.receipt_no == f"DF2026{p.pk:010d}" for p in Payment.objects.all())
    assert line(ready["wang"], 10).status == "paid"
    assert actions().count("dues.payment.record") == 2
    assert_totals_match()


def test_a_double_submitted_month_records_once(ready, people, tree):
    alice, a = people["alice"], tree["branch_a"]
    ids = [ready["zhang"].pk, ready["wang"].pk]

    def submit():
        return services.record_month(
            actor=alice,
            org=a,
            year=YEAR,
            month=10,
            member_ids=ids,
            paid_on=D(2026, 10, 30),
            request_key="grid-7",
        )

    assert submit() == {"recorded": 2, "skipped": 0}
    assert submit() == {"recorded": 0, "skipped": 2}
    assert Payment.objects.count() == 2
    assert line(ready["zhang"], 10).paid == Decimal("15.00")
    assert actions().count("dues.payment.record") == 2
    assert_totals_match()


def test_a_month_partly_paid_is_completed_by_the_grid(ready, people, tree):
    alice = people["alice"]
    pay(alice, ready["zhang"], [(YEAR, 10)], amount="5", paid_on=D(2026, 10, 2))
    result = services.record_month(
        actor=alice,
        org=tree["branch_a"],
        year=YEAR,
        month=10,
        member_ids=[ready["zhang"].pk],
        paid_on=D(2026, 10, 30),
    )
    assert result == {"recorded": 1, "skipped": 0}
    assert Payment.objects.order_by("-id").first().amount == Decimal("10.00")
    assert line(ready["zhang"], 10).status == "paid"


@pytest.mark.parametrize(
    ("who", "month", "code"),
    [
        ("li", 10, "no_base"),
        ("zhao", 10, "no_ledger_line"),  # 赵六 is B's
        ("zhang", 12, "approval_required"),  # December has not begun
    ],
)
def test_a_grid_month_that_cannot_be_recorded_records_nothing(
    ready, people, tree, who, month, code
):
    ids = [ready["wang"].pk, ready[who].pk]
    found, _f = failure(
        ValidationFailed,
        lambda: services.record_month(
            actor=people["alice"],
            org=tree["branch_a"],
            year=YEAR,
            month=month,
            member_ids=ids,
            paid_on=D(2026, 11, 20),
        ),
    )
    assert found == code
    assert not Payment.objects.exists()


def test_a_grid_month_is_not_paid_online(ready, people, tree):
    code, _f = failure(
        ValidationFailed,
        lambda: services.record_month(
            actor=people["alice"],
            org=tree["branch_a"],
            year=YEAR,
            month=10,
            member_ids=[ready["zhang"].pk],
            paid_on=D(2026, 11, 20),
            method="online",
        ),
    )
    assert code == "reference_required"


# A key or a reference reused for something else ----------------------------------------------


def test_a_reference_reused_for_another_amount_is_refused(ready, people):
    zhang, alice = ready["zhang"], people["alice"]
    first = pay(alice, zhang, [(YEAR, 9)], method="bank", reference="ICBC-5", amount="5")
    assert pay(alice, zhang, [(YEAR, 9)], method="bank", reference="ICBC-5", amount="5") == first
    with pytest.raises(Conflict) as caught:
        pay(alice, zhang, [(YEAR, 9)], method="bank", reference="ICBC-5", amount="10")
    assert (caught.value.code, caught.value.field) == ("duplicate_reference", "reference")
    assert first.receipt_no in caught.value.message  # the branch's own receipt
    assert line(zhang, 9).paid == Decimal("5.00") and Payment.objects.count() == 1


@pytest.mark.parametrize(
    "changed",
    [
        {"months": [(YEAR, 7)]},
        {"months": [(YEAR, 7), (YEAR, 8)]},
        {"amount": "3"},
        {"method": "bank"},
    ],
    ids=["other-month", "more-months", "other-amount", "other-method"],
)
def test_a_request_key_reused_for_another_payment_is_refused(ready, people, changed):
    """The same form sent again after it was changed: not a success that records nothing."""
    zhang, alice = ready["zhang"], people["alice"]
    first = pay(alice, zhang, [(YEAR, 8)], request_key="form-1")
    assert pay(alice, zhang, [(YEAR, 8)], request_key="form-1").pk == first.pk
    args = {"months": [(YEAR, 8)], **changed}
    code, _f = failure(
        Conflict, lambda: pay(alice, zhang, args.pop("months"), request_key="form-1", **args)
    )
    assert code == "request_reused"
    assert Payment.objects.count() == 1 and line(zhang, 7).status == "unpaid"


def test_a_dues_key_reused_for_a_voluntary_payment_is_refused(ready, people):
    zhang, alice = ready["zhang"], people["alice"]
    pay(alice, zhang, [(YEAR, 8)], request_key="form-1")
    code, _f = failure(
        Conflict,
        lambda: services.record_voluntary(
            actor=alice,
            member=zhang,
            amount="15",
            paid_on=NOV_20,
            method="cash",
            request_key="form-1",
        ),
    )
    assert code == "request_reused"


@pytest.mark.parametrize(
    ("changed", "code"),
    [
        ({"amount": "300"}, "request_reused"),
        ({"method": "bank"}, "request_reused"),
    ],
)
def test_a_voluntary_key_reused_for_another_payment_is_refused(ready, people, changed, code):
    zhang, alice = ready["zhang"], people["alice"]
    kwargs = {"actor": alice, "member": zhang, "paid_on": D(2026, 7, 1), "request_key": "vol-1"}
    services.record_voluntary(**kwargs, amount="200", method="cash")
    found, _f = failure(
        Conflict,
        lambda: services.record_voluntary(
            **kwargs, **{"amount": "200", "method": "cash", **changed}
        ),
    )
    assert found == code
    assert Payment.objects.count() == 1


def test_a_voluntary_reference_reused_for_another_amount_is_refused(ready, people):
    zhang, alice = ready["zhang"], people["alice"]
    kwargs = {"actor": alice, "member": zhang, "paid_on": D(2026, 7, 1), "method": "online"}
    first = services.record_voluntary(**kwargs, amount="200", reference="WX-1")
    assert services.record_voluntary(**kwargs, amount="200", reference="WX-1").pk == first.pk
    code, field = failure(
        Conflict, lambda: services.record_voluntary(**kwargs, amount="250", reference="WX-1")
    )
    assert (code, field) == ("duplicate_reference", "reference")


def test_a_grid_form_sent_again_for_another_month_is_refused(ready, people, tree):
    alice, a = people["alice"], tree["branch_a"]
    ids = [ready["zhang"].pk, ready["wang"].pk]

    def submit(month):
        return services.record_month(
            actor=alice,
            org=a,
            year=YEAR,
            month=month,
            member_ids=ids,
            paid_on=D(2026, 10, 30),
            request_key="grid-9",
        )

    assert submit(10) == {"recorded": 2, "skipped": 0}
    code, field = failure(Conflict, lambda: submit(9))
    assert (code, field) == ("request_reused", "month")
    assert line(ready["zhang"], 9).status == "unpaid" and Payment.objects.count() == 2


def test_grid_keys_are_apart_from_the_keys_of_forms(ready, people, tree):
    """Each member's payment of a grid has a key of the grid's own ("grid:…"): a form whose key
    happens to read like one ("grid-3:<member>") is another request."""
    alice, zhang, wang = people["alice"], ready["zhang"], ready["wang"]
    services.record_month(
        actor=alice,
        org=tree["branch_a"],
        year=YEAR,
        month=10,
        member_ids=[zhang.pk],
        paid_on=D(2026, 10, 30),
        request_key="grid-3",
    )
    assert Payment.objects.get().request_key == f"grid:grid-3:{zhang.pk}"
    other = pay(alice, wang, [(YEAR, 10)], request_key=f"grid-3:{zhang.pk}")
    assert other.member == wang and Payment.objects.count() == 2


def test_a_grid_month_more_than_six_months_back_needs_confirming(ready, people, tree):
    alice, a, zhang = people["alice"], tree["branch_a"], ready["zhang"]

    def record(month, **extra):
        return services.record_month(
            actor=alice,
            org=a,
            year=YEAR,
            month=month,
            member_ids=[zhang.pk],
            paid_on=NOV_20,
            **extra,
        )

    code, field = failure(ValidationFailed, lambda: record(4))  # seven months before November
    assert (code, field) == ("late_payment", "month")
    assert not Payment.objects.exists()
    assert record(4, confirm_late=True) == {"recorded": 1, "skipped": 0}
    assert record(5) == {"recorded": 1, "skipped": 0}  # six months back: no question
    # Nothing left to record: nothing to confirm either.
    assert record(4) == {"recorded": 0, "skipped": 1}
    assert line(zhang, 4).status == "paid"
    assert_totals_match()


# Reversal ------------------------------------------------------------------------------------


def test_a_reversal_makes_the_months_owed_again(ready, people):
    zhang, alice = ready["zhang"], people["alice"]
    pay(alice, zhang, [(YEAR, 6)], amount="5", paid_on=D(2026, 6, 1))
    p = pay(alice, zhang, [(YEAR, 6), (YEAR, 7)], paid_on=D(2026, 7, 10))
    assert p.amount == Decimal("25.00")
    services.reverse_payment(actor=alice, payment=p, reason="记错月份")
    june, july = line(zhang, 6), line(zhang, 7)
    assert (june.paid, june.status, june.paid_on) == (Decimal("5.00"), "partial", D(2026, 7, 10))
    assert (july.paid, july.status, july.paid_on) == (Decimal("0.00"), "unpaid", None)
    p.refresh_from_db()
    assert p.reversed and p.reversed_by == alice and p.reverse_reason == "记错月份"
    event = AuditEvent.objects.get(action="dues.payment.reverse")
    assert event.after["reverse_reason"] == "记错月份" and event.before["reversed_at"] is None
    assert_totals_match()
    code, _f = failure(
        Conflict, lambda: services.reverse_payment(actor=alice, payment=p, reason="再来")
    )
    assert code == "already_reversed"
    # The months can be paid again.
    pay(alice, zhang, [(YEAR, 7)], paid_on=D(2026, 7, 11))
    assert line(zhang, 7).status == "paid"
    assert_totals_match()


def test_a_reversal_needs_a_reason(ready, people):
    p = pay(people["alice"], ready["zhang"], [(YEAR, 6)], paid_on=D(2026, 6, 1))
    code, field = failure(
        ValidationFailed,
        lambda: services.reverse_payment(actor=people["alice"], payment=p, reason=" "),
    )
    assert field == "reason"
    assert not Payment.objects.get(pk=p.pk).reversed


# Voluntary payments --------------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "large"), [("999.99", False), ("1000", True), ("5000", True)])
def test_voluntary_payments_are_apart_and_large_ones_flagged(ready, people, tree, amount, large):
    zhang, alice = ready["zhang"], people["alice"]
    p = services.record_voluntary(
        actor=alice,
        member=zhang,
        amount=amount,
        paid_on=D(2026, 7, 1),
        method="bank",
        reference="V1",
    )
    assert (p.kind, p.amount, p.large_one_off) == ("voluntary", Decimal(amount), large)
    assert not Allocation.objects.filter(payment=p).exists()
    assert not LedgerLine.objects.filter(member=zhang, paid__gt=0).exists()
    total = MonthTotal.objects.get(organization=tree["branch_a"], year=YEAR, month=7)
    assert total.voluntary == Decimal(amount)
    assert total.large_one_off == (Decimal(amount) if large else 0)
    assert AuditEvent.objects.filter(action="dues.payment.voluntary", object_id=str(p.pk)).exists()
    assert_totals_match()
    services.reverse_payment(actor=alice, payment=p, reason="误录")
    total.refresh_from_db()
    assert (total.voluntary, total.large_one_off) == (0, 0)
    assert_totals_match()


def test_a_voluntary_payment_is_recorded_once(ready, people):
    zhang, alice = ready["zhang"], people["alice"]
    kwargs = {"actor": alice, "member": zhang, "amount": "200", "paid_on": D(2026, 7, 1)}
    first = services.record_voluntary(**kwargs, method="cash", request_key="vol-1")
    assert services.record_voluntary(**kwargs, method="cash", request_key="vol-1").pk == first.pk
    second = services.record_voluntary(**kwargs, method="online", reference="WX-9")
    assert services.record_voluntary(**kwargs, method="online", reference="WX-9").pk == second.pk
    assert Payment.objects.count() == 2


# Every change is audited ---------------------------------------------------------------------


def test_every_change_leaves_an_audit_event(ready, people, tree):
    zhang, alice, oscar = ready["zhang"], people["alice"], people["oscar"]
    start = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    services.declare_base(actor=alice, member=zhang, year=YEAR, category="in_service", base="3200")
    relief = services.request_relief(
        actor=alice,
        member=zhang,
        year=YEAR,
        from_month=1,
        to_month=1,
        kind="reduce",
        amount="10",
        reason="困难",
        branch_decided_on=D(2026, 1, 5),
    )
    services.sign_relief(actor=oscar, relief=relief, approve=True)
    p = pay(alice, zhang, [(YEAR, 2)], paid_on=D(2026, 2, 2))
    services.record_month(
        actor=alice,
        org=tree["branch_a"],
        year=YEAR,
        month=3,
        member_ids=[zhang.pk],
        paid_on=D(2026, 3, 3),
    )
    services.record_voluntary(
        actor=alice, member=zhang, amount="50", paid_on=D(2026, 3, 3), method="cash"
    )
    services.reverse_payment(actor=alice, payment=p, reason="错")
    services.generate_now(actor=alice, org=tree["branch_a"], year=YEAR)
    services.remind_behind(actor=alice, org=tree["branch_a"], year=YEAR, month=4)
    assert actions(after=start) == [
        "dues.base.change",
        "dues.relief.request",
        "dues.relief.sign",
        "dues.payment.record",
        "dues.payment.record",
        "dues.payment.voluntary",
        "dues.payment.reverse",
        "dues.ledger.generate",
        "dues.remind",
    ]
    base_change = AuditEvent.objects.get(action="dues.base.change")
    assert base_change.before == {"base": "3000.00", "computed": "15.00"}
    assert base_change.after == {"base": "3200.00", "computed": "32.00"}
    assert_totals_match()
