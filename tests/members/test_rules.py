"""The Party-standing timeline as pure rules, and as-of queries against the database."""

import datetime

import pytest

from dangjian.members import rules
from dangjian.members.rules import Event

D = datetime.date.fromisoformat


def ev(kind, on, org=None, seq=0, detail=""):
    return Event(kind=kind, on=D(on), organization_id=org, seq=seq, detail=detail)


LIFE = [
    ev("admitted", "2010-07-01", org=1),
    ev("became_full", "2011-07-01"),
    ev("mobile_out", "2014-03-01", detail="广东深圳"),
    ev("mobile_back", "2014-09-01"),
    ev("transferred_out", "2016-05-10"),
    ev("transferred_in", "2016-06-01", org=2),
    ev("lost_contact", "2019-01-01"),
    ev("suspended", "2019-08-01"),
    ev("regained_contact", "2020-02-01"),
    ev("restored", "2020-03-01"),
    ev("deceased", "2025-12-01"),
]


@pytest.mark.parametrize(
    "on,status,category,standing,org,lost,mobile",
    [
        ("2010-06-30", "not_yet", "", "normal", None, False, False),
        ("2010-07-01", "active", "probationary", "normal", 1, False, False),
        ("2011-06-30", "active", "probationary", "normal", 1, False, False),
        ("2011-12-31", "active", "full", "normal", 1, False, False),
        ("2014-06-01", "active", "full", "normal", 1, False, True),
        ("2016-05-20", "transferred_out", "full", "normal", 1, False, False),
        ("2016-12-31", "active", "full", "normal", 2, False, False),
        ("2019-12-31", "active", "full", "suspended", 2, True, False),
        ("2020-12-31", "active", "full", "normal", 2, False, False),
        ("2025-12-31", "deceased", "full", "normal", 2, False, False),
    ],
)
def test_state_as_of(on, status, category, standing, org, lost, mobile):
    state = rules.derive(LIFE, D(on))
    assert (state.status, state.category, state.standing, state.organization_id) == (
        status,
        category,
        standing,
        org,
    )
    assert (state.out_of_contact, state.mobile) == (lost, mobile)
    assert state.counts == (status == "active")


def test_events_apply_in_date_order_whatever_the_input_order():
    assert rules.derive(list(reversed(LIFE))) == rules.derive(LIFE)


@pytest.mark.parametrize(
    "new,code",
    [
        (ev("admitted", "2012-01-01", org=1), "already_admitted"),
        (ev("became_full", "2012-01-01"), "not_probationary"),
        (ev("restored", "2012-01-01"), "not_suspended"),
        (ev("regained_contact", "2012-01-01"), "not_out_of_contact"),
        (ev("mobile_back", "2012-01-01"), "not_mobile"),
        (ev("suspended", "2009-01-01"), "not_active"),
        (ev("expelled", "2012-01-01"), "later_events"),
        (ev("transferred_in", "2012-01-01", org=3), "already_active"),
    ],
)
def test_events_that_do_not_fit_are_refused(new, code):
    events = LIFE[:2] + [ev("lost_contact", "2013-01-01", seq=5)]
    with pytest.raises(rules.TimelineError) as info:
        rules.check(events, new)
    assert info.value.code == code


def test_probation_rules():
    events = [ev("admitted", "2024-07-01", org=1)]
    rules.check(events, ev("probation_extended", "2025-07-01"))
    with pytest.raises(rules.TimelineError):
        rules.check(events, ev("became_full", "2024-07-01"))
    rules.check(events, ev("qualification_cancelled", "2025-07-01"))
    state = rules.derive([*events, ev("qualification_cancelled", "2025-07-01")])
    assert state.status == "cancelled" and not state.counts


@pytest.mark.parametrize(
    "full_on,on,years",
    [
        (None, "2026-01-01", None),
        ("2000-07-01", "2026-06-30", 25),
        ("2000-07-01", "2026-07-01", 26),
        ("2027-01-01", "2026-07-01", None),
    ],
)
def test_party_years(full_on, on, years):
    assert rules.party_years(D(full_on) if full_on else None, D(on)) == years


def test_record_problems():
    problems = rules.record_problems(
        birth_date=D("1990-01-02"),
        sex="1",
        id_birth=D("1990-01-01"),
        id_sex=2,
        joined_on=D("2007-12-31"),
        full_on=D("2007-12-31"),
        category="full",
    )
    assert problems == [
        ("birth_date", "birth_date_mismatch"),
        ("sex", "sex_mismatch"),
        ("joined_on", "too_young"),
        ("full_on", "full_before_joining"),
    ]
    assert (
        rules.record_problems(
            birth_date=D("1990-01-01"),
            sex="2",
            id_birth=D("1990-01-01"),
            id_sex=2,
            joined_on=D("2008-01-01"),
            full_on=D("2009-01-01"),
            category="full",
        )
        == []
    )


def test_members_as_of_a_past_date_from_the_database(people, tree, roster, admin):
    """Annual statistics count as of 31 December: later events do not change the past."""
    from dangjian.members import selectors, services

    zhao, li, qian = roster["zhao"], roster["li"], roster["qian"]
    services.record_event(actor=admin, member=zhao, kind="deceased", on=D("2025-03-01"))
    services.record_event(actor=admin, member=li, kind="became_full", on=D("2026-09-01"))
    # Transfers are the transfers services' own events (recorded with their letters).
    services.append_event(actor=admin, member=qian, kind="transferred_out", on=D("2026-02-01"))
    services.append_event(
        actor=admin,
        member=qian,
        kind="transferred_in",
        on=D("2026-03-01"),
        organization=tree["branch_a"],
    )
    qian.refresh_from_db()
    assert qian.organization_id == tree["branch_a"].pk
    assert qian.org_path == tree["branch_a"].path

    def counted(on, org=None):
        rows = selectors.members_as_of(people["oscar"], D(on), org)
        return {m.name: (m.full_then, m.org_then) for m in rows}

    end_2024 = counted("2024-12-31")
    assert set(end_2024) == {"张三", "王五", "赵六", "钱七"}  # 李四 joined in 2025
    assert end_2024["钱七"][1] == tree["branch_b"].pk
    end_2025 = counted("2025-12-31")
    assert set(end_2025) == {"张三", "李四", "王五", "钱七"}
    assert end_2025["李四"] == (False, tree["branch_a"].pk)  # probationary then
    now = counted("2026-11-01")
    assert now["李四"][0] is True and now["钱七"][1] == tree["branch_a"].pk
    assert set(counted("2025-12-31", tree["branch_b"])) == {"钱七"}
    # bob sees only B's members, as they were
    assert {m.name for m in selectors.members_as_of(people["bob"], D("2024-12-31"))} == {
        "赵六",
        "钱七",
    }
    # and the state of one member on a past date
    assert selectors.state_as_of(zhao, D("2025-02-28")).counts
    assert not selectors.state_as_of(zhao, D("2025-03-01")).counts


def test_dissolving_a_branch_moves_its_members_on_their_timelines(people, tree, roster, admin):
    from dangjian.core import services as core_services
    from dangjian.members import rules as r
    from dangjian.members import services

    a, b = tree["branch_a"], tree["branch_b"]
    core_services.dissolve_organization(actor=admin, org=tree["group_a"], on=D("2026-01-01"))
    core_services.dissolve_organization(actor=admin, org=a, on=D("2026-02-01"), move_members_to=b)
    zhang = roster["zhang"]
    zhang.refresh_from_db()
    assert (zhang.organization_id, zhang.org_path) == (b.pk, b.path)
    assert list(zhang.events.values_list("kind", flat=True)) == [
        "admitted",
        "became_full",
        "transferred",
    ]
    # the timeline agrees with the record, before and after the move
    assert r.derive([e.as_rule() for e in zhang.events.all()]).organization_id == b.pk
    assert (
        r.derive([e.as_rule() for e in zhang.events.all()], D("2026-01-31")).organization_id == a.pk
    )
    # a later event keeps the member where the record says
    services.record_event(actor=admin, member=zhang, kind="lost_contact", on=D("2026-03-01"))
    zhang.refresh_from_db()
    assert zhang.organization_id == b.pk and zhang.out_of_contact


def test_an_edit_that_reorders_the_timeline_is_refused(people, tree, roster, admin):
    """Moving the date of joining after a later transfer would split the record's organisation
    from its scope path: refused, nothing changes."""
    from dangjian.core.errors import ValidationFailed
    from dangjian.members import services

    wang = roster["wang"]
    services.append_event(  # as the transfers services write it
        actor=admin,
        member=wang,
        kind="transferred",
        on=D("2010-03-01"),
        organization=tree["branch_b"],
    )
    wang.refresh_from_db()
    assert (wang.organization_id, wang.org_path) == (tree["branch_b"].pk, tree["branch_b"].path)
    with pytest.raises(ValidationFailed) as info:
        services.update_member(
            actor=admin,
            member=wang,
            data={"joined_on": D("2011-06-01"), "full_on": D("2012-06-01")},
        )
    assert info.value.field == "joined_on"
    wang.refresh_from_db()
    assert wang.joined_on == D("2005-07-01")
    assert (wang.organization_id, wang.org_path) == (tree["branch_b"].pk, tree["branch_b"].path)
    assert list(wang.events.values_list("kind", flat=True)) == [
        "admitted",
        "became_full",
        "transferred",
    ]


def test_an_event_inserted_before_others_must_fit_them_all(people, roster, admin):
    from dangjian.core.errors import ValidationFailed
    from dangjian.members import services

    zhang, li = roster["zhang"], roster["li"]
    services.record_event(actor=admin, member=zhang, kind="suspended", on=D("2015-01-01"))
    with pytest.raises(ValidationFailed) as info:
        services.record_event(actor=admin, member=zhang, kind="suspended", on=D("2012-01-01"))
    assert info.value.code == "already_suspended"
    with pytest.raises(ValidationFailed) as info:
        services.append_event(  # as the transfers services write it
            actor=admin,
            member=li,
            kind="transferred_in",
            on=D("2020-01-01"),
            organization=li.organization,
        )
    assert info.value.code == "not_first"
    assert zhang.events.count() == 3 and li.events.count() == 1


def test_other_scripts_digits_are_no_id_number():
    from dangjian.core.idnumber import InvalidIdNumber, parse_id_number

    for text in ("11²105194912310020", "١١٠١٠٥١٩٤٩١٢٣١٠٠٢X"):
        with pytest.raises(InvalidIdNumber) as info:
            parse_id_number(text)
        assert info.value.code == "characters"
