"""Every transfers page, tried by three people (STYLE.md): alice, secretary of branch A (inside);
oscar, org admin of the township above A and B (above); bob, secretary of B (a sibling: 404 for
anything of A's). The receiving side sees an incoming transfer, never the member's record until it
accepts. Lists keep a fixed number of queries whatever their length.

The guard `test_the_matrix_covers_every_transfers_page` fails when a page is added to
transfers/urls.py without a row here.
"""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, reverse
from django.utils import timezone

from dangjian.core.models import AuditEvent
from dangjian.members import services as member_services
from dangjian.members.models import Member, StandingEvent
from dangjian.transfers import services
from dangjian.transfers.models import MobileStay, Transfer

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(people, tree, roster):
    alice = people["alice"]
    a = tree["branch_a"]
    wang, li, zhang = roster["wang"], roster["li"], roster["zhang"]
    letter = services.issue_letter(actor=alice, member=wang, counterpart="外县委组织部")
    incoming = services.register_incoming(
        actor=alice,
        to_org=a,
        letter_number="外组〔2026〕1号",
        counterpart="外县委组织部",
        person_name="孙八",
    )
    stay = services.register_mobile_out(actor=alice, member=li, destination="深圳市南山区")
    member_services.record_event(
        actor=alice,
        member=wang,
        kind="lost_contact",
        on=timezone.localdate() - datetime.timedelta(days=400),
    )
    internal = services.start_transfer(actor=alice, member=zhang, to_org=tree["branch_b"])
    return {
        "people": people,
        "tree": tree,
        "roster": roster,
        "letter": letter,
        "incoming": incoming,
        "stay": stay,
        "internal": internal,
    }


def page_args(name, w):
    """(args, query) of a page about branch A or something of A's that bob may not see."""
    a = w["tree"]["branch_a"]
    r = w["roster"]
    letter, stay = w["letter"].pk, w["stay"].pk
    return {
        "transfers:list": ([], {}),
        "transfers:targets": ([], {"q": "党支部"}),
        "transfers:start": ([r["wang"].pk], {}),
        "transfers:start_group": ([], {"org": a.pk}),
        "transfers:detail": ([letter], {}),
        "transfers:accept": ([letter], {}),
        "transfers:return": ([letter], {}),
        "transfers:cancel": ([letter], {}),
        "transfers:accept_batch": ([letter], {}),
        "transfers:issue_letter": ([r["wang"].pk], {}),
        "transfers:letter_pdf": ([letter], {}),
        "transfers:letter_docx": ([letter], {}),
        "transfers:record_receipt": ([letter], {}),
        "transfers:register_incoming": ([], {"org": a.pk}),
        "transfers:confirm_incoming": ([w["incoming"].pk], {}),
        "transfers:mobile": ([], {}),
        "transfers:mobile_out": ([r["wang"].pk], {}),
        "transfers:mobile_in": ([], {"org": a.pk}),
        "transfers:mobile_end": ([stay], {}),
        "transfers:mobile_convert": ([stay], {}),
        "transfers:contact": ([], {}),
        "transfers:contact_mark": ([r["wang"].pk], {}),
        "transfers:contact_decide": ([r["wang"].pk], {}),
    }[name]


# Lists and the organisation search answer everyone with what is theirs (checked below).
EVERYONE = {"transfers:list", "transfers:targets", "transfers:mobile", "transfers:contact"}
POST_ONLY = {
    "transfers:accept",
    "transfers:return",
    "transfers:cancel",
    "transfers:accept_batch",
    "transfers:record_receipt",
}


def url_names():
    from dangjian.transfers import urls

    return [f"transfers:{p.name}" for p in urls.urlpatterns if isinstance(p, URLPattern)]


def state():
    return (
        list(Transfer.objects.order_by("pk").values_list("pk", "state", "member_id")),
        list(MobileStay.objects.order_by("pk").values_list("pk", "state")),
        list(Member.objects.order_by("pk").values_list("pk", "organization_id", "status")),
        StandingEvent.objects.count(),
        AuditEvent.objects.count(),
    )


def with_query(url, query):
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


@pytest.mark.parametrize("name", url_names())
@pytest.mark.parametrize("person", ["alice", "oscar", "bob"])
def test_every_transfers_page_by_person(world, client_for, name, person):
    args, query = page_args(name, world)
    client = client_for(world["people"][person])
    url = reverse(name, args=args)
    outsider = person == "bob" and name not in EVERYONE
    if name in POST_ONLY:
        assert client.get(url, query).status_code == 405
        if outsider:
            before = state()
            assert client.post(with_query(url, query), {}).status_code == 404
            assert state() == before
        return
    response = client.get(url, query)
    expected = 404 if outsider else 200
    assert response.status_code == expected, (name, person, response.status_code)
    if outsider:
        before = state()
        assert client.post(with_query(url, query), {}).status_code in (404, 405)
        assert state() == before


def test_the_matrix_covers_every_transfers_page(world):
    for name in url_names():
        page_args(name, world)  # KeyError names a page without a row


@pytest.mark.parametrize("name", url_names())
def test_anonymous_is_sent_to_login(client, world, name):
    try:
        args, query = page_args(name, world)
    except KeyError:
        pytest.fail(f"{name} has no row in page_args")
    response = client.get(reverse(name, args=args), query)
    assert response.status_code in (302, 405)
    if response.status_code == 302:
        assert "/login/" in response.url


def test_bob_sees_the_incoming_transfer_not_the_record(world, client_for):
    bob = client_for(world["people"]["bob"])
    internal = world["internal"]
    zhang = world["roster"]["zhang"]
    listing = bob.get(reverse("transfers:list"), {"tab": "incoming"})
    assert [t.pk for t in listing.context["page"].object_list] == [internal.pk]
    detail = bob.get(reverse("transfers:detail", args=[internal.pk]))
    assert detail.status_code == 200 and not detail.context["member_visible"]
    assert reverse("members:detail", args=[zhang.pk]) not in detail.content.decode()
    for name in ("members:detail", "members:edit", "members:card_pdf", "members:event_create"):
        assert bob.get(reverse(name, args=[zhang.pk])).status_code == 404, name
    # nothing else of A's shows in his lists
    assert [
        t.pk
        for t in bob.get(reverse("transfers:list"), {"tab": "outgoing"}).context["page"].object_list
    ] == []
    assert bob.get(reverse("transfers:mobile")).context["rows"] == []
    assert bob.get(reverse("transfers:contact")).context["rows"] == []
    assert bob.get(reverse("transfers:contact"), {"find": "王"}).context["candidates"] == []


def test_alice_and_oscar_see_their_lists(world, client_for):
    for person in ("alice", "oscar"):
        c = client_for(world["people"][person])
        out = c.get(reverse("transfers:list"), {"tab": "outgoing"})
        assert {t.pk for t in out.context["page"].object_list} == {
            world["letter"].pk,
            world["internal"].pk,
        }
        incoming = c.get(reverse("transfers:list"), {"tab": "incoming"})
        expected = {world["incoming"].pk} | ({world["internal"].pk} if person == "oscar" else set())
        assert {t.pk for t in incoming.context["page"].object_list} == expected
        assert [s.pk for s, _e, _c in c.get(reverse("transfers:mobile")).context["rows"]] == [
            world["stay"].pk
        ]
        assert [m.pk for m, _may in c.get(reverse("transfers:contact")).context["rows"]] == [
            world["roster"]["wang"].pk
        ]


def test_a_view_only_role_gets_no_forms(world, client_for, make_user, admin):
    """A committee member sees transfers but may not act: the forms answer 404."""
    from dangjian.core import services as core_services

    carol = make_user("carol")
    a = world["tree"]["branch_a"]
    core_services.assign_role(actor=admin, user=carol, org=a, role="committee_member")
    c = client_for(carol)
    assert c.get(reverse("transfers:list")).status_code == 200
    assert c.get(reverse("transfers:detail", args=[world["letter"].pk])).status_code == 200
    wang = world["roster"]["wang"].pk
    for name, args, query in [
        ("transfers:start", [wang], {}),
        ("transfers:issue_letter", [wang], {}),
        ("transfers:mobile_out", [wang], {}),
        ("transfers:start_group", [], {"org": a.pk}),
        ("transfers:register_incoming", [], {"org": a.pk}),
        ("transfers:mobile_end", [world["stay"].pk], {}),
        ("transfers:confirm_incoming", [world["incoming"].pk], {}),
        ("transfers:contact_mark", [wang], {}),
    ]:
        assert c.get(reverse(name, args=args), query).status_code == 404, name


# Query counts ---------------------------------------------------------------------------------


def _queries(client, url, params) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _grow(people, tree, make_member, n, start):
    """n more members of A with a transfer to B, a letter, a stay and lost contact each."""
    alice = people["alice"]
    lost = timezone.localdate() - datetime.timedelta(days=300)
    for i in range(start, start + n):
        a1 = make_member(tree["branch_a"], f"甲{i}", birth="1980-01-01")
        a2 = make_member(tree["branch_a"], f"乙{i}", birth="1981-01-01")
        a3 = make_member(tree["branch_a"], f"丙{i}", birth="1982-01-01")
        services.start_transfer(actor=alice, member=a1, to_org=tree["branch_b"])
        services.issue_letter(actor=alice, member=a2, counterpart="外县委组织部")
        services.register_mobile_out(
            actor=alice, member=a3, host_org=tree["branch_b"], card_number=f"LD{i}"
        )
        member_services.record_event(actor=alice, member=a3, kind="lost_contact", on=lost)


@pytest.mark.parametrize(
    "name,params,person",
    [
        ("transfers:list", {"tab": "incoming"}, "bob"),
        ("transfers:list", {"tab": "outgoing"}, "alice"),
        ("transfers:list", {"tab": "outgoing", "state": "all"}, "oscar"),
        ("transfers:list", {"tab": "stuck"}, "oscar"),
        ("transfers:mobile", {"tab": "out"}, "alice"),
        ("transfers:mobile", {"tab": "in"}, "bob"),
        ("transfers:contact", {}, "oscar"),
    ],
)
def test_list_queries_do_not_grow_with_rows(
    people, tree, make_member, client_for, settings, name, params, person
):
    settings.TRANSFER_STUCK_DAYS = 1
    c = client_for(people[person])
    url = reverse(name)
    _grow(people, tree, make_member, 2, 0)
    Transfer.objects.update(started_on=timezone.localdate() - datetime.timedelta(days=5))
    few = _queries(c, url, params)
    _grow(people, tree, make_member, 6, 10)
    Transfer.objects.update(started_on=timezone.localdate() - datetime.timedelta(days=5))
    many = _queries(c, url, params)
    rows = c.get(url, params).context["page"].object_list
    assert len(rows) >= 8
    assert many == few, (name, params, few, many)


def test_detail_page_queries_are_bounded(
    people, tree, roster, client_for, django_assert_max_num_queries
):
    alice = people["alice"]
    chosen = [roster["zhang"], roster["li"], roster["wang"]]
    created = services.start_group_transfer(actor=alice, members=chosen, to_org=tree["branch_b"])
    bob = client_for(people["bob"])
    with django_assert_max_num_queries(12):
        response = bob.get(reverse("transfers:detail", args=[created[0].pk]))
    assert len(response.context["batch"]) == 3


def test_member_page_banner_costs_no_extra_query(people, roster, client_for):
    """The transfer banner of the member page is read in the one query it always makes."""
    zhang = roster["zhang"]
    c = client_for(people["alice"])
    url = reverse("members:detail", args=[zhang.pk])
    without = _queries(c, url, {})
    services.start_transfer(actor=people["alice"], member=zhang, to_org=roster["zhao"].organization)
    with_transfer = _queries(c, url, {})
    assert with_transfer == without
    assert 'data-testid="transfer-banner"' in c.get(url).content.decode()
