"""Yearly bases (DOMAIN §2, 2017 rule: fixed for the year): one member at a time, or a whole
grid all or nothing; the amount by the rules and the version that decided it; an amount set by
hand only with a reason; every change audited, a repeat changing nothing records nothing."""

from decimal import Decimal

import pytest

from dangjian.core.errors import ValidationFailed
from dangjian.core.models import AuditEvent
from dangjian.dues import services
from dangjian.dues.models import DuesBase

pytestmark = pytest.mark.django_db

YEAR = 2026


def declare(actor, member, **values):
    return services.declare_base(actor=actor, member=member, **{"year": YEAR, **values})


@pytest.mark.parametrize(
    ("category", "base", "stored", "amount"),
    [
        ("in_service", "3000", "3000.00", "15.00"),
        ("in_service", "3000.01", "3000.01", "30.00"),
        ("in_service", "10000.01", "10000.01", "200.00"),
        ("retired", "5000.01", "5000.01", "50.00"),
        ("farmer", "0.2", "0.20", "0.20"),
        ("student", None, "0.00", "0.20"),
        ("unemployed", "1234", "0.00", "0.20"),  # no base is asked for
        ("relief", "", "0.00", "0.20"),
    ],
)
def test_declaring_a_base(roster, people, category, base, stored, amount):
    row = declare(people["alice"], roster["zhang"], category=category, base=base)
    row.refresh_from_db()
    assert (row.category, row.base, row.computed, row.amount) == (
        category,
        Decimal(stored),
        Decimal(amount),
        Decimal(amount),
    )
    assert (row.override, row.rule_version, row.declared_by) == (None, "2017", people["alice"])
    event = AuditEvent.objects.get(action="dues.base.declare")
    assert (
        event.after["computed"] == amount
        and event.subject == f"members.member:{roster['zhang'].pk}"
    )


@pytest.mark.parametrize(
    ("year", "version"), [(2008, "2008"), (2016, "2008"), (2017, "2017"), (2027, "2017")]
)
def test_the_rules_of_the_year_decide(roster, people, year, version):
    row = services.declare_base(
        actor=people["alice"], member=roster["zhang"], year=year, category="in_service", base="5000"
    )
    assert (row.rule_version, row.computed) == (version, Decimal("50.00"))


@pytest.mark.parametrize("year", [2007, 2028, "abc", None])
def test_the_year_must_be_believable(roster, people, year):
    with pytest.raises(ValidationFailed) as caught:
        services.declare_base(
            actor=people["alice"], member=roster["zhang"], year=year, category="student"
        )
    assert (caught.value.code, caught.value.field) == ("invalid_year", "year")


@pytest.mark.parametrize(
    ("category", "base", "code"),
    [
        ("worker", "3000", "invalid_category"),
        ("", "3000", "invalid_category"),
        ("in_service", None, "required"),
        ("in_service", "", "required"),
        ("farmer", None, "required"),
        ("in_service", "abc", "invalid_amount"),
        ("in_service", "-1", "invalid_amount"),
        ("in_service", "3000.001", "invalid_amount"),
        ("in_service", "NaN", "invalid_amount"),
        ("in_service", "99999999", "invalid_amount"),
        ("retired", True, "invalid_amount"),
        ("farmer", "0.19", "farmer_range"),
        ("farmer", "1.01", "farmer_range"),
        ("farmer", "0", "farmer_range"),
    ],
)
def test_a_bad_base_names_its_field(roster, people, category, base, code):
    with pytest.raises(ValidationFailed) as caught:
        declare(people["alice"], roster["zhang"], category=category, base=base)
    assert caught.value.code == code
    assert caught.value.field == ("category" if code == "invalid_category" else "base")
    assert str(caught.value.message)
    assert not DuesBase.objects.exists()


def test_an_amount_set_by_hand_needs_a_reason(roster, people):
    zhang, alice = roster["zhang"], people["alice"]
    with pytest.raises(ValidationFailed) as caught:
        declare(alice, zhang, category="in_service", base="3000", override="10")
    assert (caught.value.code, caught.value.field) == (
        "override_reason_required",
        "override_reason",
    )
    row = declare(
        alice, zhang, category="in_service", base="3000", override="10", override_reason="困难"
    )
    assert (row.computed, row.override, row.amount, row.override_reason) == (
        Decimal("15.00"),
        Decimal("10.00"),
        Decimal("10.00"),
        "困难",
    )
    # Setting it by hand to what the rules give is no override at all.
    row = declare(
        alice, zhang, category="in_service", base="3000", override="15", override_reason="x"
    )
    assert (row.override, row.override_reason, row.amount) == (None, "", Decimal("15.00"))


def test_an_unusual_amount_is_allowed_and_marked(roster, people):
    row = declare(people["alice"], roster["zhang"], category="in_service", base="60000")
    assert row.amount == Decimal("1200.00") and row.unusual


def test_a_correction_is_audited_with_before_and_after_and_a_repeat_records_nothing(roster, people):
    zhang, alice = roster["zhang"], people["alice"]
    first = declare(alice, zhang, category="in_service", base="3000")
    second = declare(alice, zhang, category="retired", base="3000")
    assert second.pk == first.pk and DuesBase.objects.count() == 1
    change = AuditEvent.objects.get(action="dues.base.change")
    assert change.before == {"category": "in_service"}
    assert change.after == {"category": "retired"}
    declare(alice, zhang, category="retired", base="3000.00")
    assert AuditEvent.objects.filter(action__startswith="dues.base").count() == 2


# The grid: all or nothing --------------------------------------------------------------------


def test_a_grid_declares_every_row(roster, people, tree):
    rows = [
        {"member": roster["zhang"], "category": "in_service", "base": "5000.01"},
        {"member": roster["li"].pk, "category": "student"},
        {
            "member": roster["wang"],
            "category": "retired",
            "base": "4000",
            "override": "25",
            "override_reason": "本人自愿",
        },
    ]
    assert (
        services.declare_bases(actor=people["alice"], org=tree["branch_a"], year=YEAR, rows=rows)
        == 3
    )
    amounts = {b.member_id: b.amount for b in DuesBase.objects.all()}
    assert amounts == {
        roster["zhang"].pk: Decimal("75.00"),
        roster["li"].pk: Decimal("0.20"),
        roster["wang"].pk: Decimal("25.00"),
    }
    assert AuditEvent.objects.filter(action="dues.base.declare").count() == 3
    # The same grid again changes nothing and records nothing.
    assert (
        services.declare_bases(actor=people["alice"], org=tree["branch_a"], year=YEAR, rows=rows)
        == 0
    )
    assert AuditEvent.objects.filter(action="dues.base.declare").count() == 3


def test_one_bad_row_saves_nothing_and_names_every_bad_row(roster, people, tree):
    rows = [
        {"member": roster["zhang"], "category": "in_service", "base": "3000"},
        {"member": roster["li"], "category": "farmer", "base": "2"},
        {"member": roster["zhao"], "category": "student"},  # branch B's
        {"member": roster["zhang"], "category": "student"},  # twice
        {"member": roster["wang"], "category": "in_service", "base": "abc"},
        {"member": None, "category": "student"},
    ]
    with pytest.raises(services.RowErrors) as caught:
        services.declare_bases(actor=people["alice"], org=tree["branch_a"], year=YEAR, rows=rows)
    assert caught.value.code == "rows_invalid"
    errors = caught.value.rows
    assert sorted(errors) == [1, 2, 3, 4, 5]
    assert list(errors[1]) == ["base"] and list(errors[4]) == ["base"]
    assert list(errors[2]) == ["member"] and list(errors[3]) == ["member"]
    assert all(isinstance(m, str) and m for e in errors.values() for m in e.values())
    assert not DuesBase.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="dues.base").exists()
