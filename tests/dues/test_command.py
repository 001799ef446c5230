"""`dangjian generate-dues`: writes a year's ledger for a subtree, idempotently, and answers bad
arguments with a clear message."""

import datetime
import io

import pytest
from django.core.management import CommandError, call_command

from dangjian.dues import services
from dangjian.dues.models import LedgerLine

pytestmark = pytest.mark.django_db


def test_generate_dues_for_a_subtree(roster, admin, tree):
    year = datetime.date.today().year
    services.declare_base(actor=admin, member=roster["zhao"], year=year, category="student")
    out = io.StringIO()
    call_command("generate_dues", year=year, org="b02", no_progress=True, stdout=out)
    assert "ledger lines" in out.getvalue()
    in_b = LedgerLine.objects.filter(year=year, organization=tree["branch_b"])
    assert in_b.count() == 24  # two members of branch B, twelve months each
    assert not LedgerLine.objects.filter(year=year, organization=tree["branch_a"]).exists()
    assert set(in_b.filter(member=roster["zhao"]).values_list("status", flat=True)) == {"unpaid"}
    call_command("generate_dues", year=year, org="B02", no_progress=True, stdout=io.StringIO())
    assert in_b.count() == 24


@pytest.mark.parametrize(
    ("options", "message"),
    [({"year": 1999}, "--year"), ({"year": 2026, "org": "NOPE"}, "--org")],
)
def test_generate_dues_refuses_bad_arguments(db, options, message):
    with pytest.raises(CommandError, match=message):
        call_command("generate_dues", no_progress=True, **options)
