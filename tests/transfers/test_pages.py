"""Transfers, letters into the platform, mobile members and members out of contact, through the
pages, as alice (secretary of branch A), oscar (org admin of the township above A and B) and bob
(secretary of B). Letters out of the platform are in test_letters.py."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from dangjian.core.models import AuditEvent
from dangjian.members.models import Member, StandingEvent
from dangjian.transfers import services
from dangjian.transfers.models import MobileStay, State, Transfer
from tests.idnumbers import make_id

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_for(client_for):
    """The pages in English, so the messages asserted below stay the msgids whatever the
    catalogue says."""

    def login(user):
        c = client_for(user)
        c.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
        return c

    return login


def today():
    return timezone.localdate()


def iso(day: datetime.date) -> str:
    return day.isoformat()


def state():
    """Everything a failed action must leave as it was."""
    return (
        list(Transfer.objects.order_by("pk").values_list("pk", "state", "member_id")),
        list(Member.objects.order_by("pk").values_list("pk", "organization_id", "status")),
        StandingEvent.objects.count(),
        MobileStay.objects.count(),
        AuditEvent.objects.count(),
    )


def body(response) -> str:
    return response.content.decode()


# Within the platform ---------------------------------------------------------------------------


def test_full_path_of_a_transfer_within_the_platform(people, tree, roster, client_for):
    alice, bob = client_for(people["alice"]), client_for(people["bob"])
    zhang = roster["zhang"]
    a, b = tree["branch_a"], tree["branch_b"]

    # alice finds the target with the search and starts the transfer from the member's page
    page = alice.get(reverse("members:detail", args=[zhang.pk]))
    assert reverse("transfers:start", args=[zhang.pk]) in body(page)
    found = alice.get(reverse("transfers:targets"), {"q": "西街"})
    assert found.status_code == 200 and f'value="{b.pk}"' in body(found)
    response = alice.post(
        reverse("transfers:start", args=[zhang.pk]),
        {"to_org": b.pk, "started_on": iso(today()), "reason": "工作调动"},
    )
    transfer = Transfer.objects.get(member=zhang)
    assert response.status_code == 302
    assert response.url == reverse("transfers:detail", args=[transfer.pk])
    assert transfer.state == State.PENDING and transfer.to_org_id == b.pk
    # the member's page says a transfer is under way
    page = alice.get(reverse("members:detail", args=[zhang.pk]))
    assert 'data-testid="transfer-banner"' in body(page)
    assert reverse("transfers:detail", args=[transfer.pk]) in body(page)

    # bob sees it in Incoming, with its count on the tab
    listing = bob.get(reverse("transfers:list"))
    assert [t.pk for t in listing.context["page"].object_list] == [transfer.pk]
    assert listing.context["counts"]["incoming"] == 1
    # ... and what it says, but neither a link to nor data of the record
    detail = bob.get(reverse("transfers:detail", args=[transfer.pk]))
    assert detail.status_code == 200
    text = body(detail)
    assert "张三" in text and "东街社区党支部" in text and "工作调动" in text
    assert reverse("members:detail", args=[zhang.pk]) not in text
    assert 'data-testid="member-link"' not in text
    assert "13900001111" not in text and "139****1111" not in text
    assert detail.context["may_accept"] and not detail.context["may_cancel"]
    assert bob.get(reverse("members:detail", args=[zhang.pk])).status_code == 404
    assert bob.get(reverse("members:card_pdf", args=[zhang.pk])).status_code == 404

    # bob accepts
    response = bob.post(
        reverse("transfers:accept", args=[transfer.pk]), {"decided_on": iso(today())}
    )
    assert response.status_code == 302
    transfer.refresh_from_db()
    zhang.refresh_from_db()
    assert transfer.state == State.COMPLETED
    assert zhang.organization_id == b.pk and zhang.org_path == b.path
    detail = bob.get(reverse("transfers:detail", args=[transfer.pk]))
    assert 'data-state="completed"' in body(detail)
    assert reverse("members:detail", args=[zhang.pk]) in body(detail)
    assert bob.get(reverse("members:detail", args=[zhang.pk])).status_code == 200
    # alice no longer sees the record, but still sees her outgoing transfer
    assert alice.get(reverse("members:detail", args=[zhang.pk])).status_code == 404
    detail = alice.get(reverse("transfers:detail", args=[transfer.pk]))
    assert detail.status_code == 200
    assert reverse("members:detail", args=[zhang.pk]) not in body(detail)
    assert a.pk != zhang.organization_id


def test_the_sender_cannot_accept_and_the_receiver_cannot_cancel(people, tree, roster, client_for):
    transfer = services.start_transfer(
        actor=people["alice"], member=roster["zhang"], to_org=tree["branch_b"]
    )
    before = state()
    alice, bob = client_for(people["alice"]), client_for(people["bob"])
    on = {"decided_on": iso(today())}
    # Each side sees the transfer, so the other side's action is refused, not hidden.
    assert alice.post(reverse("transfers:accept", args=[transfer.pk]), on).status_code == 403
    response = bob.post(reverse("transfers:cancel", args=[transfer.pk]), {})
    assert response.status_code == 403
    assert state() == before
    response = alice.post(reverse("transfers:cancel", args=[transfer.pk]), {"reason": "弄错了"})
    assert response.status_code == 302
    transfer.refresh_from_db()
    assert transfer.state == State.CANCELLED


def test_return_needs_a_reason(people, tree, roster, client_for):
    transfer = services.start_transfer(
        actor=people["alice"], member=roster["zhang"], to_org=tree["branch_b"]
    )
    bob = client_for(people["bob"])
    before = state()
    response = bob.post(reverse("transfers:return", args=[transfer.pk]), {"reason": "  "})
    assert response.status_code == 400
    assert response.context["return_form"].errors["reason"]
    assert state() == before

    response = bob.post(
        reverse("transfers:return", args=[transfer.pk]), {"reason": "本人不在我单位工作"}
    )
    assert response.status_code == 302
    transfer.refresh_from_db()
    assert transfer.state == State.RETURNED and transfer.decision_note == "本人不在我单位工作"
    # the sender reads why; the member never moved
    detail = client_for(people["alice"]).get(reverse("transfers:detail", args=[transfer.pk]))
    assert "本人不在我单位工作" in body(detail) and 'data-state="returned"' in body(detail)
    assert Member.objects.get(pk=roster["zhang"].pk).organization_id == tree["branch_a"].pk


def test_accepting_twice_says_it_is_decided(people, tree, roster, client_for):
    transfer = services.start_transfer(
        actor=people["alice"], member=roster["zhang"], to_org=tree["branch_b"]
    )
    bob = client_for(people["bob"])
    on = {"decided_on": iso(today())}
    assert bob.post(reverse("transfers:accept", args=[transfer.pk]), on).status_code == 302
    before = state()
    response = bob.post(reverse("transfers:accept", args=[transfer.pk]), on)
    assert response.status_code == 409
    assert response.context["accept_form"].non_field_errors()
    assert state() == before


def test_group_transfer_and_accepting_the_batch(people, tree, roster, client_for):
    alice, bob = client_for(people["alice"]), client_for(people["bob"])
    a, b = tree["branch_a"], tree["branch_b"]
    chooser = alice.get(reverse("transfers:start_group"))
    assert chooser.status_code == 200 and f'value="{a.pk}"' in body(chooser)
    page = alice.get(reverse("transfers:start_group"), {"org": a.pk})
    assert {m.name for m in page.context["candidates"]} == {"张三", "李四", "王五"}

    before = state()
    response = alice.post(
        reverse("transfers:start_group"),
        {"org": a.pk, "to_org": b.pk, "started_on": iso(today())},
    )
    assert response.status_code == 400 and response.context["form"].errors["members"]
    assert state() == before

    chosen = [roster["zhang"].pk, roster["wang"].pk]
    response = alice.post(
        reverse("transfers:start_group"),
        {"org": a.pk, "members": chosen, "to_org": b.pk, "started_on": iso(today())},
    )
    assert response.status_code == 302
    batch = list(Transfer.objects.filter(member__in=chosen))
    assert len(batch) == 2 and len({t.batch for t in batch}) == 1 and batch[0].batch
    # a member under way cannot be picked again
    page = alice.get(reverse("transfers:start_group"), {"org": a.pk})
    assert {m.name for m in page.context["candidates"] if m.under_way} == {"张三", "王五"}

    detail = bob.get(reverse("transfers:detail", args=[batch[0].pk]))
    assert detail.context["may_accept_batch"] and len(detail.context["batch"]) == 2
    response = bob.post(
        reverse("transfers:accept_batch", args=[batch[0].pk]), {"batch-decided_on": iso(today())}
    )
    assert response.status_code == 302
    assert set(Member.objects.filter(pk__in=chosen).values_list("organization_id", flat=True)) == {
        b.pk
    }
    assert Member.objects.get(pk=roster["li"].pk).organization_id == a.pk
    before = state()
    again = bob.post(
        reverse("transfers:accept_batch", args=[batch[0].pk]), {"batch-decided_on": iso(today())}
    )
    assert again.status_code == 409 and again.context["batch_form"].non_field_errors()
    assert state() == before


@pytest.fixture
def dissolved(tree, admin):
    from dangjian.core import services as core_services

    org = core_services.create_organization(
        actor=admin, parent=tree["other_town"], code="B09", name="已撤销党支部", kind="branch"
    )
    core_services.dissolve_organization(actor=admin, org=org)
    org.refresh_from_db()
    assert org.status != "active"
    return org


@pytest.mark.parametrize(
    "target,message",
    [
        ("dissolved", "is dissolved"),
        ("town", "not by a"),
        ("missing", "does not exist"),
        ("none", "Choose the receiving organisation"),
        ("own", "already in that organisation"),
        ("huge", "does not exist"),
        ("text", "less than or equal to"),
    ],
)
def test_bad_targets_are_refused_and_change_nothing(
    people, tree, roster, client_for, dissolved, target, message
):
    to_org = {
        "dissolved": dissolved.pk,
        "town": tree["town"].pk,
        "missing": 987654,
        "none": "",
        "own": tree["branch_a"].pk,
        "huge": 2**61,
        "text": "9" * 30,
    }[target]
    before = state()
    response = client_for(people["alice"]).post(
        reverse("transfers:start", args=[roster["zhang"].pk]),
        {"to_org": to_org, "started_on": iso(today()), "reason": "工作调动"},
    )
    assert response.status_code in (400, 409)
    errors = " ".join(response.context["form"].errors.get("to_org", []))
    assert message in errors, errors
    assert 'value="工作调动"' in body(response)  # what was typed stays
    assert state() == before


@pytest.mark.parametrize(
    "started_on,field",
    [
        (iso(datetime.date.today() + datetime.timedelta(days=3)), "started_on"),
        ("2026-02-30", "started_on"),
        ("", "started_on"),
    ],
)
def test_bad_dates_are_refused(people, tree, roster, client_for, started_on, field):
    before = state()
    response = client_for(people["alice"]).post(
        reverse("transfers:start", args=[roster["zhang"].pk]),
        {"to_org": tree["branch_b"].pk, "started_on": started_on},
    )
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert state() == before


def test_accepting_before_the_start_is_refused(people, tree, roster, client_for):
    transfer = services.start_transfer(
        actor=people["alice"],
        member=roster["zhang"],
        to_org=tree["branch_b"],
        on=today() - datetime.timedelta(days=3),
    )
    before = state()
    bob = client_for(people["bob"])
    for day in (today() - datetime.timedelta(days=5), today() + datetime.timedelta(days=1)):
        response = bob.post(
            reverse("transfers:accept", args=[transfer.pk]), {"decided_on": iso(day)}
        )
        assert response.status_code == 400
        assert response.context["accept_form"].errors["decided_on"]
    assert state() == before


def test_the_list_tabs_and_filters(people, tree, roster, client_for):
    alice, bob = people["alice"], people["bob"]
    old = today() - datetime.timedelta(days=60)
    t1 = services.start_transfer(
        actor=alice, member=roster["zhang"], to_org=tree["branch_b"], on=old
    )
    t2 = services.start_transfer(actor=bob, member=roster["zhao"], to_org=tree["branch_a"])
    services.return_transfer(actor=alice, transfer=t2, reason="不接收")
    c = client_for(alice)
    out = c.get(reverse("transfers:list"), {"tab": "outgoing"})
    assert [t.pk for t in out.context["page"].object_list] == [t1.pk]
    incoming = c.get(reverse("transfers:list"), {"tab": "incoming"})
    assert list(incoming.context["page"].object_list) == []  # returned is not pending
    incoming = c.get(reverse("transfers:list"), {"tab": "incoming", "state": "all"})
    assert [t.pk for t in incoming.context["page"].object_list] == [t2.pk]
    incoming = c.get(reverse("transfers:list"), {"tab": "incoming", "state": "returned"})
    assert [t.pk for t in incoming.context["page"].object_list] == [t2.pk]
    stuck = client_for(people["oscar"]).get(reverse("transfers:list"), {"tab": "stuck"})
    assert [t.pk for t in stuck.context["page"].object_list] == [t1.pk]
    assert stuck.context["counts"] == {"incoming": 1, "outgoing": 1, "stuck": 1}
    named = c.get(reverse("transfers:list"), {"tab": "outgoing", "q": "李"})
    assert list(named.context["page"].object_list) == []
    for params in ({"tab": "x", "state": "y", "page": "zz"}, {"q": "\x00"}, {"page": "-1"}):
        assert c.get(reverse("transfers:list"), params).status_code == 200


# Letters into the platform ---------------------------------------------------------------------


def _register(client, org, **extra):
    data = {
        "org": org.pk,
        "letter_number": "外组〔2026〕12号",
        "counterpart": "外县委组织部",
        "person_name": "孙八",
        "started_on": iso(today()),
        "valid_until": iso(today() + datetime.timedelta(days=20)),
        **extra,
    }
    return client.post(reverse("transfers:register_incoming"), data)


def test_incoming_letter_with_a_new_record(people, tree, client_for):
    bob = client_for(people["bob"])
    b = tree["branch_b"]
    assert bob.get(reverse("transfers:register_incoming"), {"org": b.pk}).status_code == 200
    response = _register(bob, b)
    transfer = Transfer.objects.get(direction="incoming")
    assert response.status_code == 302
    assert response.url == reverse("transfers:confirm_incoming", args=[transfer.pk])
    assert transfer.to_org_id == b.pk and transfer.state == State.PENDING

    page = bob.get(response.url)
    assert page.status_code == 200 and 'value="孙八"' in body(page)
    id_number = make_id("1988-02-02", 1, seq=77)
    record = {
        "mode": "new",
        "new-decided_on": iso(today()),
        "new-name": "孙八",
        "new-id_number": id_number,
        "new-sex": "1",
        "new-ethnicity": "01",
        "new-birth_date": "1988-02-02",
        "new-category": "full",
        "new-joined_on": "2012-07-01",
        "new-full_on": "2013-07-01",
    }
    before = state()
    response = bob.post(page.request["PATH_INFO"], {**record, "new-joined_on": ""})
    assert response.status_code == 400 and response.context["record"].errors["joined_on"]
    assert 'value="孙八"' in body(response)
    assert state() == before
    response = bob.post(page.request["PATH_INFO"], record)
    assert response.status_code == 302
    transfer.refresh_from_db()
    assert transfer.state == State.COMPLETED
    member = transfer.member
    assert member.organization_id == b.pk and member.status == "active"
    assert bob.get(reverse("members:detail", args=[member.pk])).status_code == 200
    # done: the confirm page sends back to the transfer
    assert bob.get(page.request["PATH_INFO"]).status_code == 302


def test_incoming_letter_brings_back_a_record_that_left(people, tree, roster, client_for):
    alice, bob = people["alice"], client_for(people["bob"])
    zhang = roster["zhang"]
    letter = services.issue_letter(actor=alice, member=zhang, counterpart="外县委组织部")
    services.record_receipt(actor=alice, transfer=letter)
    assert Member.objects.get(pk=zhang.pk).status == "transferred_out"

    _register(bob, tree["branch_b"], person_name="张三")
    transfer = Transfer.objects.get(direction="incoming")
    url = reverse("transfers:confirm_incoming", args=[transfer.pk])
    from dangjian.members.services import member_id_number

    number = member_id_number(zhang)
    # a number nobody left with: said so, nothing changes
    before = state()
    response = bob.post(
        url,
        {
            "mode": "lookup",
            "link-id_number": make_id("1970-01-01", 2, seq=5),
            "link-decided_on": iso(today()),
        },
    )
    assert response.status_code == 400 and response.context["lookup"].errors["id_number"]
    response = bob.post(
        url, {"mode": "lookup", "link-id_number": "12345", "link-decided_on": iso(today())}
    )
    assert response.status_code == 400 and response.context["lookup"].errors["id_number"]
    # the real number finds the record; nothing changes until it is confirmed
    response = bob.post(
        url, {"mode": "lookup", "link-id_number": number, "link-decided_on": iso(today())}
    )
    assert response.status_code == 200 and response.context["found"].pk == zhang.pk
    assert 'data-testid="found"' in body(response)
    # nothing changes but the audit of the two look-ups (the unreadable number looks up nothing)
    assert state()[:4] == before[:4]
    assert AuditEvent.objects.filter(action="letter.lookup").count() == 2
    response = bob.post(
        url, {"mode": "link", "link-id_number": number, "link-decided_on": iso(today())}
    )
    assert response.status_code == 302
    zhang.refresh_from_db()
    transfer.refresh_from_db()
    assert zhang.status == "active" and zhang.organization_id == tree["branch_b"].pk
    assert transfer.state == State.COMPLETED and transfer.member_id == zhang.pk
    assert zhang.events.filter(kind="transferred_in").exists()


def test_incoming_letter_bad_input(people, tree, client_for):
    bob = client_for(people["bob"])
    b = tree["branch_b"]
    assert _register(bob, b).status_code == 302
    before = state()
    # the same number from the same place again
    response = _register(bob, b)
    assert response.status_code == 409, response.context["form"].errors
    assert "already registered" in " ".join(response.context["form"].errors["letter_number"])
    assert 'value="孙八"' in body(response)
    # already expired on arrival
    response = _register(
        bob,
        b,
        letter_number="外组〔2026〕13号",
        started_on=iso(today()),
        valid_until=iso(today() - datetime.timedelta(days=1)),
    )
    assert response.status_code == 400 and response.context["form"].errors["valid_until"]
    # received in the future
    response = _register(
        bob,
        b,
        letter_number="外组〔2026〕14号",
        started_on=iso(today() + datetime.timedelta(days=2)),
    )
    assert response.status_code == 400 and response.context["form"].errors["started_on"]
    # a number with odd characters
    response = _register(bob, b, letter_number="<script>")
    assert response.status_code == 400 and response.context["form"].errors["letter_number"]
    assert state() == before


def test_confirming_an_expired_incoming_letter_is_refused(people, tree, client_for):
    bob = client_for(people["bob"])
    _register(
        bob,
        tree["branch_b"],
        started_on=iso(today() - datetime.timedelta(days=10)),
        valid_until=iso(today() - datetime.timedelta(days=2)),
    )
    transfer = Transfer.objects.get(direction="incoming")
    before = state()
    response = bob.post(
        reverse("transfers:confirm_incoming", args=[transfer.pk]),
        {
            "mode": "new",
            "new-decided_on": iso(today()),
            "new-name": "孙八",
            "new-id_number": make_id("1988-02-02", 1, seq=78),
            "new-ethnicity": "01",
            "new-category": "full",
            "new-joined_on": "2012-07-01",
            "new-full_on": "2013-07-01",
        },
    )
    assert response.status_code == 400
    errors = " ".join(response.context["when"].non_field_errors()) + " ".join(
        response.context["record"].non_field_errors()
    )
    assert "expired" in errors
    assert state() == before


# Mobile members --------------------------------------------------------------------------------


def test_mobile_out_to_branch_b_shows_in_bobs_incoming_list(people, tree, roster, client_for):
    alice, bob = client_for(people["alice"]), client_for(people["bob"])
    zhang = roster["zhang"]
    page = alice.get(reverse("transfers:mobile_out", args=[zhang.pk]), {"q": "西街"})
    assert page.status_code == 200 and f'value="{tree["branch_b"].pk}"' in body(page)
    back = today() + datetime.timedelta(days=60)
    response = alice.post(
        reverse("transfers:mobile_out", args=[zhang.pk]),
        {
            "host_org": tree["branch_b"].pk,
            "since": iso(today()),
            "expected_return": iso(back),
            "card_number": "LD-001",
        },
    )
    assert response.status_code == 302
    stay = MobileStay.objects.get(member=zhang)
    assert Member.objects.get(pk=zhang.pk).mobile

    listing = bob.get(reverse("transfers:mobile"), {"tab": "in"})
    rows = listing.context["rows"]
    assert [(s.pk, may_end) for s, may_end, _c in rows] == [(stay.pk, False)]
    assert "LD-001" in body(listing)
    assert reverse("members:detail", args=[zhang.pk]) not in body(listing)
    assert listing.context["counts"]["in"] == 1
    # only the home side ends it or turns it into a transfer
    assert bob.get(reverse("transfers:mobile_end", args=[stay.pk])).status_code == 404
    assert bob.post(reverse("transfers:mobile_convert", args=[stay.pk]), {}).status_code == 404
    out = alice.get(reverse("transfers:mobile"))
    assert [(s.pk, may_end, may_convert) for s, may_end, may_convert in out.context["rows"]] == [
        (stay.pk, True, True)
    ]

    response = alice.post(
        reverse("transfers:mobile_convert", args=[stay.pk]),
        {"to_org": tree["branch_b"].pk, "started_on": iso(today())},
    )
    assert response.status_code == 302
    stay.refresh_from_db()
    assert stay.state == "converted" and stay.transfer.to_org_id == tree["branch_b"].pk
    assert stay.transfer.state == State.PENDING


def test_mobile_bad_input_and_return(people, tree, roster, client_for):
    alice = client_for(people["alice"])
    zhang = roster["zhang"]
    url = reverse("transfers:mobile_out", args=[zhang.pk])
    before = state()
    for data, field in [
        ({"since": iso(today())}, "destination"),
        (
            {
                "destination": "深圳",
                "since": iso(today()),
                "expected_return": iso(today() + datetime.timedelta(days=400)),
            },
            "expected_return",
        ),
        (
            {"destination": "深圳", "since": iso(today() + datetime.timedelta(days=1))},
            "since",
        ),
        ({"host_org": tree["town"].pk, "since": iso(today())}, "host_org"),
    ]:
        response = alice.post(url, data)
        assert response.status_code == 400, data
        assert response.context["form"].errors[field], data
    assert state() == before
    assert (
        alice.post(url, {"destination": "深圳市南山区", "since": iso(today())}).status_code == 302
    )
    stay = MobileStay.objects.get(member=zhang)
    response = alice.post(
        reverse("transfers:mobile_end", args=[stay.pk]),
        {"returned_on": iso(today() + datetime.timedelta(days=1))},
    )
    assert response.status_code == 400
    response = alice.post(
        reverse("transfers:mobile_end", args=[stay.pk]), {"returned_on": iso(today())}
    )
    assert response.status_code == 302
    stay.refresh_from_db()
    assert stay.state == "returned" and not Member.objects.get(pk=zhang.pk).mobile


def test_guest_from_elsewhere(people, tree, client_for):
    bob, alice = client_for(people["bob"]), client_for(people["alice"])
    b = tree["branch_b"]
    response = bob.post(
        reverse("transfers:mobile_in"),
        {"org": b.pk, "person_name": "周九", "home_text": "外省某村党支部", "since": iso(today())},
    )
    assert response.status_code == 302
    stay = MobileStay.objects.get(person_name="周九")
    assert stay.member_id is None and stay.host_org_id == b.pk
    listing = bob.get(reverse("transfers:mobile"), {"tab": "in"})
    assert [(s.pk, end, convert) for s, end, convert in listing.context["rows"]] == [
        (stay.pk, True, False)
    ]
    assert alice.get(reverse("transfers:mobile"), {"tab": "in"}).context["rows"] == []
    assert bob.get(reverse("transfers:mobile_convert", args=[stay.pk])).status_code == 404
    response = bob.post(
        reverse("transfers:mobile_end", args=[stay.pk]), {"returned_on": iso(today())}
    )
    assert response.status_code == 302
    stay.refresh_from_db()
    assert stay.state == "returned"
    ended = bob.get(reverse("transfers:mobile"), {"tab": "in", "show": "all"})
    assert [s.pk for s, _e, _c in ended.context["rows"]] == [stay.pk]
    assert bob.get(reverse("transfers:mobile"), {"tab": "in"}).context["rows"] == []


# Out of contact --------------------------------------------------------------------------------


def test_contact_decision_path(people, tree, roster, client_for):
    alice = client_for(people["alice"])
    wang = roster["wang"]
    lost = today() - datetime.timedelta(days=250)
    found = alice.get(reverse("transfers:contact"), {"find": "王"})
    assert [m.pk for m in found.context["candidates"]] == [wang.pk]
    response = alice.post(
        reverse("transfers:contact_mark", args=[wang.pk]), {"on": iso(lost), "detail": "电话停机"}
    )
    assert response.status_code == 302
    wang.refresh_from_db()
    assert wang.out_of_contact and wang.out_of_contact_since == lost

    listing = alice.get(reverse("transfers:contact"))
    rows = listing.context["rows"]
    assert [(m.pk, m.flag) for m, _may in rows] == [(wang.pk, "suspend")]
    assert 'data-flag="suspend"' in body(listing)
    # a flag is only a flag: the standing is untouched until someone decides
    assert Member.objects.get(pk=wang.pk).standing == "normal"

    url = reverse("transfers:contact_decide", args=[wang.pk])
    assert alice.get(url).context["form"].initial["decision"] == "suspend"
    before = state()
    response = alice.post(url, {"decision": "suspend", "on": iso(today()), "reference": ""})
    assert response.status_code == 400 and response.context["form"].errors["reference"]
    response = alice.post(
        url, {"decision": "remove", "on": iso(today()), "reference": "支发〔2026〕1号"}
    )
    assert response.status_code == 400 and response.context["form"].errors["decision"]
    assert state() == before
    response = alice.post(
        url, {"decision": "suspend", "on": iso(today()), "reference": "支发〔2026〕1号"}
    )
    assert response.status_code == 302
    wang.refresh_from_db()
    assert wang.standing == "suspended"
    event = wang.events.get(kind="suspended")
    assert event.reference == "支发〔2026〕1号"
    # now the removal falls due two years later, and nothing is flagged yet
    rows = alice.get(reverse("transfers:contact")).context["rows"]
    assert [(m.flag, m.flag_due > today()) for m, _may in rows] == [("", True)]

    # back in contact
    response = alice.post(reverse("transfers:contact_mark", args=[wang.pk]), {"on": iso(today())})
    assert response.status_code == 302
    assert not Member.objects.get(pk=wang.pk).out_of_contact
    assert alice.get(reverse("transfers:contact")).context["rows"] == []
    assert alice.get(url).status_code == 404  # no longer out of contact


def test_contact_mark_in_the_future_is_refused(people, roster, client_for):
    alice = client_for(people["alice"])
    before = state()
    response = alice.post(
        reverse("transfers:contact_mark", args=[roster["wang"].pk]),
        {"on": iso(today() + datetime.timedelta(days=1))},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["on"]
    assert state() == before


def test_contact_mark_with_control_characters_is_refused(people, roster, client_for):
    alice = client_for(people["alice"])
    before = state()
    response = alice.post(
        reverse("transfers:contact_mark", args=[roster["wang"].pk]),
        {"on": iso(today()), "detail": "电话\x01停机"},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["detail"] == ["Remove the control characters."]
    assert response.context["form"]["detail"].value() == "电话\x01停机"
    assert state() == before


def test_member_page_buttons(people, roster, client_for):
    zhang = roster["zhang"]
    page = body(client_for(people["alice"]).get(reverse("members:detail", args=[zhang.pk])))
    for name in ("start", "issue_letter", "mobile_out", "contact_mark"):
        assert reverse(f"transfers:{name}", args=[zhang.pk]) in page
    assert 'data-testid="transfer-banner"' not in page


@pytest.mark.parametrize(
    "name,params",
    [
        ("transfers:list", {"page": "99999999999999999999"}),
        ("transfers:start_group", {"org": "99999999999999999999999"}),
        ("transfers:register_incoming", {"org": "１２"}),
        ("transfers:mobile_in", {"org": "-1"}),
        ("transfers:targets", {"q": "\x00" * 3, "field": "<x>"}),
        ("transfers:mobile", {"tab": "zz", "show": "\x00", "page": "x"}),
        ("transfers:contact", {"find": "\x00", "q": "张" * 300}),
    ],
)
def test_odd_query_values_never_fail(people, tree, roster, client_for, name, params):
    response = client_for(people["alice"]).get(reverse(name), params)
    assert response.status_code in (200, 404)


def test_odd_ids_in_paths_answer_404(people, roster, client_for):
    c = client_for(people["alice"])
    for name in ("transfers:detail", "transfers:mobile_end", "transfers:letter_pdf"):
        assert c.get(reverse(name, args=[2**62])).status_code == 404
    assert c.get(reverse("transfers:start", args=[2**62])).status_code == 404


# Look-ups by ID number ---------------------------------------------------------------------------


def _returning(people, tree, roster, **letter):
    """张三 left the platform; bob registers a letter from outside at branch B."""
    zhang = roster["zhang"]
    out = services.issue_letter(actor=people["alice"], member=zhang, counterpart="外县委组织部")
    services.record_receipt(actor=people["alice"], transfer=out)
    values = {"person_name": "张三", **letter}
    transfer = services.register_incoming(
        actor=people["bob"],
        to_org=tree["branch_b"],
        letter_number="外组〔2026〕12号",
        counterpart="外县委组织部",
        **values,
    )
    from dangjian.members.services import member_id_number

    return (
        transfer,
        reverse("transfers:confirm_incoming", args=[transfer.pk]),
        member_id_number(zhang),
    )


def test_the_found_record_does_not_say_where_it_was(people, tree, roster, client_for):
    transfer, url, number = _returning(people, tree, roster)
    bob = client_for(people["bob"])
    response = bob.post(
        url, {"mode": "lookup", "link-id_number": number, "link-decided_on": iso(today())}
    )
    assert response.status_code == 200 and response.context["found"].pk == roster["zhang"].pk
    page = body(response)
    assert "张三" in page and tree["branch_a"].name not in page


def test_an_id_number_of_someone_not_named_on_the_letter_finds_nothing(
    people, tree, roster, client_for
):
    transfer, url, number = _returning(people, tree, roster, person_name="李四")
    bob = client_for(people["bob"])
    before = state()
    for mode in ("lookup", "link"):
        response = bob.post(
            url, {"mode": mode, "link-id_number": number, "link-decided_on": iso(today())}
        )
        assert response.status_code == 400 and response.context["found"] is None
        assert "the name on the letter" in response.context["lookup"].errors["id_number"][0]
        assert "张三" not in body(response) and tree["branch_a"].name not in body(response)
    assert state()[:4] == before[:4]
    lookups = AuditEvent.objects.filter(action="letter.lookup")
    assert [e.after["found"] for e in lookups] == [False, False]


def test_lookups_on_the_page_are_limited(people, tree, roster, client_for):
    transfer, url, number = _returning(people, tree, roster)
    bob = client_for(people["bob"])
    nobody = make_id("1970-01-01", 2, seq=5)
    for _ in range(services.LOOKUPS_ALLOWED):
        response = bob.post(
            url, {"mode": "lookup", "link-id_number": nobody, "link-decided_on": iso(today())}
        )
        assert response.status_code == 400
    response = bob.post(
        url, {"mode": "lookup", "link-id_number": number, "link-decided_on": iso(today())}
    )
    assert response.status_code == 429 and response.context["found"] is None
    assert "Too many look-ups" in response.context["lookup"].errors["id_number"][0]
    assert response.context["lookup"]["id_number"].value() == number  # kept as typed


def test_a_letter_with_a_birth_date_prefills_the_new_record(people, tree, client_for):
    bob = client_for(people["bob"])
    assert _register(bob, tree["branch_b"], birth_date="1988-02-02").status_code == 302
    transfer = Transfer.objects.get(direction="incoming")
    assert transfer.incoming_data == {"birth_date": "1988-02-02"}
    page = bob.get(reverse("transfers:confirm_incoming", args=[transfer.pk]))
    assert page.context["record"]["birth_date"].value() == "1988-02-02"
    response = _register(
        bob, tree["branch_b"], letter_number="外组〔2026〕13号", birth_date="2999-01-01"
    )
    assert response.status_code == 400 and response.context["form"].errors["birth_date"]
