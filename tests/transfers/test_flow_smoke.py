"""The main paths of transfers, letters and mobile members through the services."""

import datetime

import pytest

from dangjian.core.errors import Conflict, NotFound, ValidationFailed
from dangjian.members.models import Member
from dangjian.transfers import selectors, services
from dangjian.transfers.models import State

pytestmark = pytest.mark.django_db


def test_internal_transfer_accept(people, tree, roster):
    alice, bob = people["alice"], people["bob"]
    zhang = roster["zhang"]
    t = services.start_transfer(
        actor=alice, member=zhang, to_org=tree["branch_b"], reason="工作调动"
    )
    # bob sees it incoming but not the record
    assert selectors.incoming(bob).filter(pk=t.pk).exists()
    from dangjian.members import selectors as ms

    assert not ms.members(bob).filter(pk=zhang.pk).exists()
    with pytest.raises(Conflict):
        services.start_transfer(actor=alice, member=zhang, to_org=tree["branch_b"])
    services.accept_transfer(actor=bob, transfer=t)
    zhang.refresh_from_db()
    assert zhang.organization_id == tree["branch_b"].pk
    assert zhang.org_path == tree["branch_b"].path
    assert ms.members(bob).filter(pk=zhang.pk).exists()
    with pytest.raises(Conflict):
        services.accept_transfer(actor=bob, transfer=t)


def test_return_needs_reason(people, tree, roster):
    t = services.start_transfer(
        actor=people["alice"], member=roster["zhang"], to_org=tree["branch_b"]
    )
    with pytest.raises(ValidationFailed):
        services.return_transfer(actor=people["bob"], transfer=t, reason=" ")
    services.return_transfer(actor=people["bob"], transfer=t, reason="不在本单位工作")
    t.refresh_from_db()
    assert t.state == State.RETURNED
    with pytest.raises(NotFound):
        services.accept_transfer(actor=people["alice"], transfer=t)


def test_dissolved_target(people, tree, roster, admin):
    with pytest.raises(ValidationFailed) as exc:
        services.start_transfer(actor=people["alice"], member=roster["zhang"], to_org=tree["town"])
    assert exc.value.code == "not_a_branch"


def test_letter_out_and_receipt(people, tree, roster):
    alice = people["alice"]
    t = services.issue_letter(
        actor=alice, member=roster["wang"], counterpart="某市某区某街道党工委"
    )
    t2 = services.issue_letter(actor=alice, member=roster["zhang"], counterpart="外省某党委")
    assert t.letter_issuer_id == tree["town"].pk
    assert t2.letter_seq == t.letter_seq + 1
    assert (t.valid_until - t.started_on).days == 30
    services.record_receipt(actor=alice, transfer=t)
    wang = Member.objects.get(pk=roster["wang"].pk)
    assert wang.status == "transferred_out"
    # expire the second letter
    assert services.expire_letters(datetime.date.today() + datetime.timedelta(days=31)) == 1
    t2.refresh_from_db()
    assert t2.state == State.EXPIRED


def test_incoming_letter(people, tree):
    alice = people["alice"]
    from tests.idnumbers import make_id

    t = services.register_incoming(
        actor=alice,
        to_org=tree["branch_a"],
        letter_number="2026-0042",
        counterpart="外县委组织部",
        person_name="孙八",
    )
    with pytest.raises(Conflict):
        services.register_incoming(
            actor=alice,
            to_org=tree["branch_a"],
            letter_number="2026-0042",
            counterpart="外县委组织部",
            person_name="孙八",
        )
    services.confirm_incoming(
        actor=alice,
        transfer=t,
        data={
            "name": "孙八",
            "id_number": make_id("1988-02-02", 1, seq=77),
            "joined_on": datetime.date(2012, 7, 1),
            "full_on": datetime.date(2013, 7, 1),
            "category": "full",
        },
    )
    t.refresh_from_db()
    assert t.state == State.COMPLETED and t.member.organization_id == tree["branch_a"].pk


def test_mobile_out_in_and_convert(people, tree, roster):
    alice = people["alice"]
    stay = services.register_mobile_out(
        actor=alice,
        member=roster["zhang"],
        host_org=tree["branch_b"],
        expected_return=datetime.date.today() + datetime.timedelta(days=60),
        card_number="LD001",
    )
    assert selectors.mobile_in(people["bob"]).filter(pk=stay.pk).exists()
    assert list(selectors.guests_of(tree["branch_b"])) == [stay]
    t = services.convert_mobile(actor=alice, stay=stay)
    assert t.to_org_id == tree["branch_b"].pk
    zhang = Member.objects.get(pk=roster["zhang"].pk)
    assert not zhang.mobile


def test_contact_decision(people, tree, roster):
    from dangjian.members import services as ms

    alice = people["alice"]
    ms.record_event(
        actor=alice, member=roster["wang"], kind="lost_contact", on=datetime.date(2025, 1, 10)
    )
    rows = selectors.with_flags(selectors.out_of_contact(alice))
    assert [(r.pk, r.flag) for r in rows] == [(roster["wang"].pk, "suspend")]
    with pytest.raises(ValidationFailed):
        services.decide_contact(
            actor=alice, member=roster["wang"], decision="remove", reference="x"
        )
    services.decide_contact(
        actor=alice, member=roster["wang"], decision="suspend", reference="支委会决议1号"
    )
    w = Member.objects.get(pk=roster["wang"].pk)
    assert w.standing == "suspended"
