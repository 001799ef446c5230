"""Control characters are refused in every kind of record, with the field named."""

import datetime

import pytest

from dangjian.committees import services as committee_services
from dangjian.core.errors import ValidationFailed
from dangjian.core.text import has_control_characters
from dangjian.members import services as member_services
from dangjian.members.models import FamilyMember

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("text", "lines", "bad"),
    [
        ("东街社区党支部", False, False),
        ("第一行\n第二行", True, False),
        ("第一行\n第二行", False, True),
        ("外省\x01某支部", True, True),
        ("\x7f", False, True),
        ("a\ud800b", False, True),
        ("tab\there", True, False),
    ],
)
def test_has_control_characters(text, lines, bad):
    assert has_control_characters(text, lines=lines) is bad


def test_a_member_name_with_a_control_character_is_refused(roster, admin):
    with pytest.raises(member_services.RecordInvalid) as exc:
        member_services.update_member(
            actor=admin, member=roster["zhang"], data={"name": "张\x01三"}
        )
    assert "name" in exc.value.errors
    roster["zhang"].refresh_from_db()
    assert roster["zhang"].name == "张三"


def test_a_family_row_with_a_control_character_is_refused(roster, admin):
    with pytest.raises(member_services.RecordInvalid):
        member_services.save_related(
            actor=admin,
            member=roster["zhang"],
            kind="family",
            data={"relation": "妻子", "name": "刘\x02芳"},
        )
    assert not FamilyMember.objects.exists()


def test_a_committee_text_with_a_control_character_is_refused(people, tree, roster):
    with pytest.raises(ValidationFailed) as exc:
        committee_services.appoint(
            actor=people["alice"],
            org=tree["branch_a"],
            member=roster["zhang"],
            position="secretary",
            started_on=datetime.date(2026, 1, 5),
            reference="党\x03发1号",
        )
    assert exc.value.code == "control_characters" and exc.value.field == "reference"
