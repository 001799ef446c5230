"""Races on PostgreSQL, with two real connections in two threads: two people deciding the same
transfer at once, two letters numbered at once, one letter registered twice at once.

Both threads wait at a threading.Barrier, then run into a row the main connection holds locked;
only when PostgreSQL shows both waiting does the main connection let go, so the two really meet
at the lock instead of running one after the other by chance.
"""

import threading
import time

import pytest
from django.db import connection, connections

from dangjian.core.errors import Conflict
from dangjian.core.models import AuditEvent, Organization
from dangjian.members.models import Member, StandingEvent
from dangjian.transfers import services
from dangjian.transfers.models import State, Transfer
from tests.races import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def one_winner(results, code: str):
    oks = [r for kind, r in results if kind == "ok"]
    errors = [r for kind, r in results if kind == "error"]
    assert len(oks) == 1 and len(errors) == 1, results
    assert isinstance(errors[0], Conflict), repr(errors[0])
    assert errors[0].code == code
    return oks[0]


@pytest.mark.parametrize(
    ("second", "loser_code"),
    [("accept", "already_decided"), ("return", "already_decided"), ("cancel", "already_decided")],
    ids=["two-accept", "accept-and-return", "accept-and-cancel"],
)
def test_two_people_deciding_one_transfer_at_once(people, tree, roster, second, loser_code):
    zhang = roster["zhang"]
    t = services.start_transfer(actor=people["alice"], member=zhang, to_org=tree["branch_b"])
    other = {
        "accept": lambda: services.accept_transfer(actor=people["oscar"], transfer=t),
        "return": lambda: services.return_transfer(
            actor=people["oscar"], transfer=t, reason="不在本单位"
        ),
        "cancel": lambda: services.cancel_transfer(actor=people["alice"], transfer=t),
    }[second]
    results = race([t], lambda: services.accept_transfer(actor=people["bob"], transfer=t), other)
    winner = one_winner(results, loser_code)
    t.refresh_from_db()
    assert t.state == winner.state != State.PENDING
    m = Member.objects.get(pk=zhang.pk)
    moved = t.state == State.COMPLETED
    assert m.organization_id == (tree["branch_b"] if moved else tree["branch_a"]).pk
    assert m.org_path == Organization.objects.get(pk=m.organization_id).path
    assert StandingEvent.objects.filter(member=zhang, kind="transferred").count() == int(moved)
    decided = AuditEvent.objects.filter(
        object_type="transfers.transfer",
        object_id=str(t.pk),
        action__in=["transfer.accept", "transfer.return", "transfer.cancel"],
    )
    assert decided.count() == 1


def test_two_accepting_at_once_exactly_one_wins(people, tree, roster):
    zhang = roster["zhang"]
    t = services.start_transfer(actor=people["alice"], member=zhang, to_org=tree["branch_b"])
    results = race(
        [t],
        lambda: services.accept_transfer(actor=people["bob"], transfer=t),
        lambda: services.accept_transfer(actor=people["oscar"], transfer=t),
    )
    one_winner(results, "already_decided")
    assert StandingEvent.objects.filter(member=zhang, kind="transferred").count() == 1
    assert Member.objects.get(pk=zhang.pk).organization_id == tree["branch_b"].pk
    assert not Transfer.objects.filter(member=zhang, state=State.PENDING).exists()


def test_two_letters_of_one_committee_at_once_get_distinct_numbers(people, tree, roster):
    results = race(
        [tree["town"]],  # the issuing committee's row: where numbering waits its turn
        lambda: services.issue_letter(
            actor=people["alice"], member=roster["zhang"], counterpart="外县党委"
        ),
        lambda: services.issue_letter(
            actor=people["bob"], member=roster["zhao"], counterpart="邻县党委"
        ),
    )
    assert [kind for kind, _r in results] == ["ok", "ok"], results
    numbers = sorted(r.letter_seq for _kind, r in results)
    assert numbers == [1, 2]
    assert {r.letter_issuer_id for _kind, r in results} == {tree["town"].pk}


@pytest.mark.parametrize("where", ["same-branch", "two-branches"])
def test_one_letter_registered_twice_at_once(people, tree, where):
    a = tree["branch_a"]
    b = a if where == "same-branch" else tree["branch_b"]
    registrar = people["alice"] if where == "same-branch" else people["bob"]

    def register(actor, org):
        return lambda: services.register_incoming(
            actor=actor,
            to_org=org,
            letter_number="外组〔2026〕42号",
            counterpart="外县委组织部",
            person_name="孙八",
        )

    results = race([a, b], register(people["alice"], a), register(registrar, b))
    one_winner(results, "duplicate_letter")
    assert Transfer.objects.filter(direction="incoming").count() == 1


def test_a_merge_and_a_transfer_of_its_member_at_once(people, tree, roster, admin):
    """The merge holds the branch and wants its members; the transfer must not hold the member
    and want the branch (that was a deadlock, a 500). Both lock the branch first: one waits for
    the other, and the loser is told why."""
    from dangjian.committees import restructure
    from dangjian.core import services as core_services
    from dangjian.core.errors import ServiceError

    zhang, a, b = roster["zhang"], tree["branch_a"], tree["branch_b"]
    c = core_services.create_organization(
        actor=admin, parent=tree["town"], code="B03", name="南街社区党支部", kind="branch"
    )
    results = race(
        [a, zhang],  # the transfer used to wait at the member, the merge at the branch
        lambda: restructure.merge(actor=admin, source=a, target=c),
        lambda: services.start_transfer(actor=people["alice"], member=zhang, to_org=b),
    )
    oks = [kind for kind, _r in results].count("ok")
    errors = [r for kind, r in results if kind == "error"]
    assert oks == 1 and len(errors) == 1, results
    assert isinstance(errors[0], ServiceError), repr(errors[0])
    m = Member.objects.get(pk=zhang.pk)
    pending = Transfer.objects.filter(member=zhang, state=State.PENDING)
    if results[0][0] == "ok":  # merged: 张三 is in C, nothing under way
        assert errors[0].code == "member_moved"
        assert m.organization_id == c.pk and not pending.exists()
        assert Organization.objects.get(pk=a.pk).status == "dissolved"
    else:  # the transfer came first: the merge waits for it to be decided
        assert errors[0].code == "cannot_merge"
        assert m.organization_id == a.pk and pending.get().from_org_id == a.pk
        assert Organization.objects.get(pk=a.pk).status == "active"


def test_two_transfers_crossing_at_once(people, tree, roster):
    """张三 from A to B while 赵六 goes from B to A: each needs both branches' rows. Taken in one
    order by both, neither waits for the other forever."""
    zhang, zhao = roster["zhang"], roster["zhao"]
    results = race(
        [zhang, zhao],
        lambda: services.start_transfer(
            actor=people["alice"], member=zhang, to_org=tree["branch_b"]
        ),
        lambda: services.start_transfer(actor=people["bob"], member=zhao, to_org=tree["branch_a"]),
    )
    assert [kind for kind, _r in results] == ["ok", "ok"], results
    assert Transfer.objects.filter(state=State.PENDING).count() == 2


def blockers(pid) -> set:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_blocking_pids(%s)", [pid])
        return set(cursor.fetchone()[0])


def holding(obj):
    """A connection of its own holding `obj`'s row locked until rolled back, and its pid."""
    raw = connection.get_new_connection(connection.get_connection_params())
    with raw.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {obj._meta.db_table} WHERE id = %s FOR UPDATE", [obj.pk])
        cursor.execute("SELECT pg_backend_pid()")
        return raw, cursor.fetchone()[0]


def test_a_deadlock_the_transfer_loses_answers_409_not_500(people, tree, roster):
    """The services lock in one order (organisations top-down, then the member), and a merge
    takes both organisations in that order too, so the platform's own writes queue rather than
    deadlock. Should another writer take the rows the other way round (staged here: a raw
    connection holds the member, then wants the member's branch, and looks for deadlocks later),
    PostgreSQL rolls the transfer back: 409 "try again", never a 500."""
    zhang, a, b = roster["zhang"], tree["branch_a"], tree["branch_b"]
    results: dict = {}
    pids: dict = {}

    def transfer():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pids["transfer"] = cursor.fetchone()[0]
            results["transfer"] = (
                "ok",
                services.start_transfer(actor=people["alice"], member=zhang, to_org=b),
            )
        except Exception as exc:  # the Conflict expected, or anything unexpected
            results["transfer"] = ("error", exc)
        finally:
            connections.close_all()

    hold_member, holder_pid = holding(Member.objects.get(pk=zhang.pk))
    with hold_member.cursor() as cursor:
        cursor.execute("SET deadlock_timeout = '10s'")  # the transfer's backend detects it
    other_way = {}

    def take_branch():
        try:
            with hold_member.cursor() as cursor:
                cursor.execute("SELECT 1 FROM core_organization WHERE id = %s FOR UPDATE", [a.pk])
            other_way["done"] = True
        except Exception as exc:
            other_way["error"] = exc

    thread = threading.Thread(target=transfer)
    other = threading.Thread(target=take_branch)
    try:
        thread.start()
        deadline = time.monotonic() + 30
        while "transfer" not in pids or holder_pid not in blockers(pids["transfer"]):
            assert time.monotonic() < deadline, "the transfer never waited for the member"
            assert not results, f"the transfer ended too early: {results}"
            time.sleep(0.01)
        other.start()  # now the member's holder wants the branch the transfer holds
        thread.join(60)
        other.join(60)
        assert not thread.is_alive() and not other.is_alive()
    finally:
        hold_member.rollback()
        hold_member.close()
    assert other_way == {"done": True}
    kind, error = results["transfer"]
    assert kind == "error" and isinstance(error, Conflict), results
    assert error.code == "busy"
    assert not Transfer.objects.filter(member=zhang).exists()
