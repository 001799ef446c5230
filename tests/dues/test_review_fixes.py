"""Fixes after the independent review that have no better home: web form keys made the user's
own (services.form_key), the monthly rule of 2008 in the API, the migration that frees the
references of payments reversed before, amounts far too large through the services."""

import datetime
import importlib
from decimal import Decimal

import pytest
from django.apps import apps

from dangjian.core.errors import ValidationFailed
from dangjian.dues import ledger, services
from dangjian.dues.models import Payment

from .test_api import ApiClient
from .test_api import D as API

pytestmark = pytest.mark.django_db

YEAR = 2026
NOV_20 = datetime.date(2026, 11, 20)


@pytest.fixture
def ready(roster, admin, tree):
    for name in ("zhang", "wang"):
        services.declare_base(
            actor=admin, member=roster[name], year=YEAR, category="in_service", base="3000"
        )
    ledger.generate(YEAR, tree["branch_a"])
    return roster


# Web form keys ---------------------------------------------------------------------------------


def test_a_form_key_is_the_users_own_and_apart_from_every_other_kind(people):
    alice, bob = people["alice"], people["bob"]
    key = services.form_key(alice, "3f2a")
    assert key.startswith("web:") and len(key) == 44
    assert services.form_key(alice, "3f2a") == key  # the same form sent twice
    assert services.form_key(alice, " 3f2a ") == key
    assert services.form_key(bob, "3f2a") != key  # another account's form
    assert services.form_key(alice, "3f2b") != key
    for blank in (None, "", "   "):
        assert services.form_key(alice, blank) is None
    # Whatever is typed, the key is no internal one and no API key.
    for typed in ("stmt5:3", "grid:abc:7", "api:" + "0" * 40, "demo:1"):
        assert services.form_key(alice, typed).startswith("web:")


def test_a_form_cannot_replay_a_payment_recorded_under_an_internal_key(ready, people):
    """A statement's line was recorded with the key "stmt1:2". A form posting that text as its
    key is a request of its own: before, it was refused as reused (another member) or handed
    the statement's payment (the same member)."""
    alice, zhang, wang = people["alice"], ready["zhang"], ready["wang"]
    internal = services.record_payment(
        actor=alice,
        member=zhang,
        months=[(YEAR, 9)],
        paid_on=NOV_20,
        method="cash",
        request_key="stmt1:2",
    )
    paid = services.record_payment(
        actor=alice,
        member=wang,
        months=[(YEAR, 9)],
        paid_on=NOV_20,
        method="cash",
        request_key=services.form_key(alice, "stmt1:2"),
    )
    assert paid.pk != internal.pk and paid.request_key.startswith("web:")
    assert Payment.objects.count() == 2


# The rule of 2008 ------------------------------------------------------------------------------


def test_the_monthly_rule_of_january_2008_is_the_first_rule(people):
    answer = ApiClient(people["alice"]).get(
        f"{API}/rules/monthly", {"category": "in_service", "base": "3000", "on": "2008-01-15"}
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["rule_version"], body["amount"], body["rate"]) == ("2008", "15.00", "0.005")


def test_a_base_of_2008_is_computed_by_the_first_rules():
    assert services.compute("in_service", "3000", 2008) == (
        Decimal("3000.00"),
        Decimal("15.00"),
        "2008",
    )
    with pytest.raises(ValidationFailed) as caught:
        services.compute("in_service", "3000", 2007)
    assert caught.value.code == "invalid_year"


# Amounts far too large ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1e30", "-1e30", "1E+20"])
def test_amounts_far_too_large_name_their_field(ready, people, value):
    alice, zhang = people["alice"], ready["zhang"]
    calls = {
        "base": lambda: services.declare_base(
            actor=alice, member=zhang, year=YEAR, category="farmer", base=value
        ),
        "override": lambda: services.declare_base(
            actor=alice,
            member=zhang,
            year=YEAR,
            category="student",
            override=value,
            override_reason="x",
        ),
        "amount": lambda: services.record_payment(
            actor=alice,
            member=zhang,
            months=[(YEAR, 9)],
            paid_on=NOV_20,
            method="cash",
            amount=value,
        ),
    }
    for field, call in calls.items():
        with pytest.raises(ValidationFailed) as caught:
            call()
        assert caught.value.field == field
    with pytest.raises(ValidationFailed) as caught:
        services.request_relief(
            actor=alice,
            member=zhang,
            year=YEAR,
            from_month=1,
            to_month=2,
            kind="reduce",
            amount=value,
            reason="困难",
            branch_decided_on=NOV_20,
        )
    assert caught.value.field == "amount"
    with pytest.raises(ValidationFailed) as caught:
        services.record_voluntary(
            actor=alice, member=zhang, amount=value, paid_on=NOV_20, method="cash"
        )
    assert caught.value.field == "amount"
    assert not Payment.objects.exists()


# The migration that frees references of payments reversed before ---------------------------------


def test_the_migration_frees_the_references_of_payments_reversed_before(ready, people):
    alice, zhang = people["alice"], ready["zhang"]
    kept = services.record_payment(
        actor=alice, member=zhang, months=[(YEAR, 8)], paid_on=NOV_20, method="bank",
        reference="ICBC-8",
    )  # fmt: skip
    undone = services.record_payment(
        actor=alice, member=zhang, months=[(YEAR, 9)], paid_on=NOV_20, method="bank",
        reference="ICBC-9",
    )  # fmt: skip
    # As a reversal looked before the fix: the reference stayed where it was.
    Payment.objects.filter(pk=undone.pk).update(
        reversed_at=datetime.datetime(2026, 11, 21, 8, 0, tzinfo=datetime.UTC)
    )
    migration = importlib.import_module("dangjian.dues.migrations.0003_payment_reference_per_org")
    migration.free_reversed_references(apps, None)
    undone.refresh_from_db()
    kept.refresh_from_db()
    assert (undone.reference, undone.reversed_reference) == ("", "ICBC-9")
    assert (kept.reference, kept.reversed_reference) == ("ICBC-8", "")
    migration.restore_reversed_references(apps, None)
    undone.refresh_from_db()
    assert (undone.reference, undone.reversed_reference) == ("ICBC-9", "")
