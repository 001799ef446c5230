"""The committee pages through the real services: the organisation's committee page and its
forms, recording and approving an election, the overview, the shape warnings, the home card.

Each form is tried with good input (the change is made) and bad input (the message names the
field or the candidate row, what was typed comes back, nothing is written)."""

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dangjian.committees import services
from dangjian.committees.models import Election, OfficeHolder, Term
from dangjian.committees.views import problem_label, problem_short_label
from dangjian.core import rules
from dangjian.core import services as core_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def en(client_for):
    """A logged-in client that reads the pages in English."""

    def login(user):
        c = client_for(user)
        c.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
        return c

    return login


@pytest.fixture
def electorate(roster, tree, make_member):
    """Seven full members in branch A (张三, 王五 and five more); 李四 is probationary."""
    a = tree["branch_a"]
    more = [make_member(a, f"党员{i}", birth=f"1980-01-0{i + 1}") for i in range(5)]
    return [roster["zhang"], roster["wang"], *more]


def today():
    return timezone.localdate()


def days_ago(n: int) -> datetime.date:
    return today() - datetime.timedelta(days=n)


def years_ago(years: int, plus_days: int = 0) -> datetime.date:
    return rules.add_years(today(), -years) + datetime.timedelta(days=plus_days)


def html(response) -> str:
    return response.content.decode()


def selected_value(page: str, name: str) -> str | None:
    """The selected option of the first <select name=...> of the page."""
    match = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert match, name
    chosen = re.search(r'<option value="([^"]*)" selected>', match.group(1))
    return chosen.group(1) if chosen else None


def election_post(members, votes, positions=None, **numbers) -> dict:
    data = {
        "kind": "general",
        "form": "committee",
        "held_on": days_ago(10).isoformat(),
        "seats": "3",
        "voters_expected": "7",
        "voters_present": "7",
        **{k: str(v) for k, v in numbers.items()},
        "candidate_member": [str(m.pk) if m else "" for m in members],
        "candidate_votes": [str(v) for v in votes],
        "candidate_position": positions or ["member"] * len(members),
    }
    return data


GOOD_POSITIONS = ["secretary", "organisation", "publicity", "member", "member", "member", "member"]


# The organisation's committee page -------------------------------------------------------------


def test_an_organisation_without_a_committee(people, tree, en):
    a = tree["branch_a"]
    page = en(people["alice"]).get(reverse("committees:org", args=[a.pk]))
    assert page.status_code == 200
    text = html(page)
    assert 'data-testid="no-term"' in text
    assert 'data-testid="no-holders"' in text
    # alice records here but does not approve her own: no form to move the date
    assert 'data-testid="term-form"' in text and 'data-testid="appoint-form"' in text
    assert 'data-testid="shift-form"' not in text
    assert reverse("committees:election_new", args=[a.pk]) in text


def test_a_committee_member_only_reads(people, tree, make_user, en, admin):
    carol = make_user("carol")
    core_services.assign_role(
        actor=admin, user=carol, org=tree["branch_a"], role="committee_member"
    )
    page = en(carol).get(reverse("committees:org", args=[tree["branch_a"].pk]))
    assert page.status_code == 200
    text = html(page)
    assert 'data-testid="term-form"' not in text and 'data-testid="appoint-form"' not in text
    response = en(carol).post(
        reverse("committees:record_term", args=[tree["branch_a"].pk]),
        {"form": "committee", "elected_on": days_ago(1).isoformat()},
    )
    assert response.status_code == 403
    assert not Term.objects.exists()


def test_record_a_term_from_the_paper_record(people, tree, en):
    a = tree["branch_a"]
    c = en(people["alice"])
    elected = years_ago(3, plus_days=30)  # a branch's term is three years: due in 30 days
    response = c.post(
        reverse("committees:record_term", args=[a.pk]),
        {"form": "committee", "elected_on": elected.isoformat()},
    )
    assert response.status_code == 302
    term = Term.objects.get(organization=a)
    assert term.due_on == rules.term_end("branch", "other", elected)
    page = html(c.get(reverse("committees:org", args=[a.pk])))
    assert term.due_on.isoformat() in page
    assert 'data-status="due"' in page
    assert "due in 30 days" in page
    detail = html(c.get(reverse("core:org_detail", args=[a.pk])))
    assert 'data-testid="org-term"' in detail and term.due_on.isoformat() in detail
    assert f'href="{reverse("committees:org", args=[a.pk])}"' in detail


def test_a_term_in_the_future_is_refused_and_kept(people, tree, en):
    a = tree["branch_a"]
    tomorrow = (today() + datetime.timedelta(days=1)).isoformat()
    response = en(people["alice"]).post(
        reverse("committees:record_term", args=[a.pk]),
        {"form": "secretary", "elected_on": tomorrow},
    )
    assert response.status_code == 200
    form = response.context["term_form"]
    assert "cannot be in the future" in form.errors["elected_on"][0]
    text = html(response)
    assert f'value="{tomorrow}"' in text
    assert selected_value(text, "form") == "secretary"
    assert "<details open>" in text
    assert not Term.objects.exists()


def test_a_term_before_the_founding_of_the_party_is_refused_and_kept(people, tree, en):
    a = tree["branch_a"]
    response = en(people["alice"]).post(
        reverse("committees:record_term", args=[a.pk]),
        {"form": "secretary", "elected_on": "0001-01-01"},
    )
    assert response.status_code == 200
    assert "1921-07-01" in response.context["term_form"].errors["elected_on"][0]
    assert 'value="0001-01-01"' in html(response)
    assert not Term.objects.exists()


def test_appoint_and_end_an_office(people, tree, roster, en):
    a = tree["branch_a"]
    c = en(people["alice"])
    zhang = roster["zhang"]
    since = days_ago(100).isoformat()
    response = c.post(
        reverse("committees:appoint", args=[a.pk]),
        {"member": zhang.pk, "position": "secretary", "started_on": since, "reference": "党发1号"},
    )
    assert response.status_code == 302
    holder = OfficeHolder.objects.get(organization=a, ended_on__isnull=True)
    assert (holder.member_id, holder.position) == (zhang.pk, "secretary")
    detail = html(c.get(reverse("core:org_detail", args=[a.pk])))
    assert "张三" in detail and "Secretary" in detail and since in detail

    ended = days_ago(5).isoformat()
    response = c.post(
        reverse("committees:end_office", args=[holder.pk]), {"ended_on": ended, "reason": "退休"}
    )
    assert response.status_code == 302
    holder.refresh_from_db()
    assert holder.ended_on.isoformat() == ended and holder.end_reason == "退休"
    page = html(c.get(reverse("committees:org", args=[a.pk])))
    assert 'data-testid="no-holders"' in page
    assert 'class="text-body-tertiary"' in page  # the history shows the ended office greyed


def test_appointing_a_probationary_member_is_refused_and_the_choice_kept(people, tree, roster, en):
    a = tree["branch_a"]
    li = roster["li"]
    response = en(people["alice"]).post(
        reverse("committees:appoint", args=[a.pk]),
        {"member": li.pk, "position": "organisation", "started_on": days_ago(3).isoformat()},
    )
    assert response.status_code == 200
    errors = response.context["appoint_form"].errors
    assert "not a full member" in errors["member"][0]
    text = html(response)
    assert selected_value(text, "member") == str(li.pk)
    assert selected_value(text, "position") == "organisation"
    assert not OfficeHolder.objects.exists()


def test_a_taken_position_is_named(people, tree, roster, en):
    a = tree["branch_a"]
    c = en(people["alice"])
    since = days_ago(3).isoformat()
    data = {"position": "secretary", "started_on": since}
    assert (
        c.post(reverse("committees:appoint", args=[a.pk]), {**data, "member": roster["zhang"].pk})
    ).status_code == 302
    response = c.post(
        reverse("committees:appoint", args=[a.pk]), {**data, "member": roster["wang"].pk}
    )
    assert response.status_code == 200
    assert (
        "张三 already holds this position" in response.context["appoint_form"].errors["position"][0]
    )
    assert OfficeHolder.objects.count() == 1


def test_appoint_without_a_member_or_with_someone_out_of_scope(people, tree, roster, en):
    a = tree["branch_a"]
    c = en(people["alice"])
    base = {"position": "secretary", "started_on": days_ago(3).isoformat()}
    response = c.post(reverse("committees:appoint", args=[a.pk]), base)
    assert response.context["appoint_form"].errors["member"]
    # 赵六 is in branch B: alice cannot see her, so she is not found at all
    response = c.post(
        reverse("committees:appoint", args=[a.pk]), {**base, "member": roster["zhao"].pk}
    )
    assert response.context["appoint_form"].errors["member"] == ["Choose the member."]
    assert not OfficeHolder.objects.exists()


def test_ending_an_office_before_it_began_is_refused(people, tree, roster, admin, en):
    a = tree["branch_a"]
    holder = services.appoint(
        actor=admin, org=a, member=roster["zhang"], position="secretary", started_on=days_ago(10)
    )
    too_early = days_ago(20).isoformat()
    response = en(people["alice"]).post(
        reverse("committees:end_office", args=[holder.pk]), {"ended_on": too_early, "reason": "x"}
    )
    assert response.status_code == 200
    assert response.context["open_end"] == holder.pk
    text = html(response)
    assert f'value="{too_early}"' in text and "cannot be before" in text
    holder.refresh_from_db()
    assert holder.ended_on is None


def test_the_member_search_finds_eligible_members_only(people, tree, roster, en):
    url = reverse("committees:member_options", args=[tree["branch_a"].pk])
    c = en(people["alice"])
    text = html(c.get(url, {"q": "张"}))
    assert f'value="{roster["zhang"].pk}"' in text
    assert f'value="{roster["wang"].pk}"' not in text
    everyone = html(c.get(url))
    assert f'value="{roster["li"].pk}"' not in everyone  # probationary
    assert f'value="{roster["wang"].pk}"' in everyone


# Moving the re-election date: the committee above -------------------------------------------


@pytest.fixture
def term(people, tree, admin):
    return services.record_term(
        actor=admin, org=tree["branch_a"], form="committee", elected_on=years_ago(3, 30)
    )


def test_the_committee_above_moves_the_date(people, tree, term, en):
    c = en(people["oscar"])
    page = html(c.get(reverse("committees:org", args=[tree["branch_a"].pk])))
    assert 'data-testid="shift-form"' in page
    new_due = term.ends_on + datetime.timedelta(days=200)
    response = c.post(
        reverse("committees:shift_due_date", args=[term.pk]),
        {
            "due_on": new_due.isoformat(),
            "reason": "村两委换届统一安排",
            "reference": "城组〔2026〕3号",
        },
    )
    assert response.status_code == 302
    term.refresh_from_db()
    assert term.due_on == new_due and term.shift_reference == "城组〔2026〕3号"


def test_moving_more_than_a_year_is_refused_and_kept(people, tree, term, en):
    too_far = (term.ends_on + datetime.timedelta(days=400)).isoformat()
    response = en(people["oscar"]).post(
        reverse("committees:shift_due_date", args=[term.pk]),
        {"due_on": too_far, "reason": "换届推迟"},
    )
    assert response.status_code == 200
    assert "at most one year" in response.context["shift_form"].errors["due_on"][0]
    text = html(response)
    assert f'value="{too_far}"' in text and 'value="换届推迟"' in text
    term.refresh_from_db()
    assert term.due_on == term.ends_on


def test_the_branch_cannot_move_its_own_date(people, tree, term, en):
    response = en(people["alice"]).post(
        reverse("committees:shift_due_date", args=[term.pk]),
        {"due_on": (term.ends_on + datetime.timedelta(days=30)).isoformat(), "reason": "x"},
    )
    assert response.status_code == 403
    assert "Only the committee above" in html(response)
    term.refresh_from_db()
    assert term.due_on == term.ends_on


# Elections -----------------------------------------------------------------------------------


def test_the_election_form_offers_eligible_members(people, tree, electorate, roster, en):
    page = en(people["alice"]).get(reverse("committees:election_new", args=[tree["branch_a"].pk]))
    assert page.status_code == 200
    text = html(page)
    assert text.count('data-testid="candidate-row"') == 4  # three rows and the Alpine template
    assert f'value="{electorate[2].pk}"' in text
    assert f'<option value="{roster["li"].pk}"' not in text


def test_record_and_approve_an_election(people, tree, electorate, en):
    a = tree["branch_a"]
    alice, oscar = en(people["alice"]), en(people["oscar"])
    response = alice.post(
        reverse("committees:election_new", args=[a.pk]),
        election_post(electorate, [7, 6, 5, 2, 1, 0, 0], GOOD_POSITIONS),
    )
    assert response.status_code == 302, response.context and response.context["form"].errors
    election = Election.objects.get()
    assert response.url == reverse("committees:election", args=[election.pk])
    assert election.valid and election.margin_ok and election.status == "recorded"
    page = html(alice.get(response.url))
    assert page.count('data-testid="elected"') == 3
    assert 'data-testid="decide-form"' not in page  # the branch does not approve itself
    assert 'data-testid="problems"' not in page

    # the branch's own decision is refused
    refused = alice.post(
        reverse("committees:decide", args=[election.pk]),
        {"decision": "approve", "decided_on": today().isoformat()},
    )
    assert refused.status_code == 403
    election.refresh_from_db()
    assert election.status == "recorded"

    # the committee above sees it awaiting, and approves
    overview = html(oscar.get(reverse("committees:overview")))
    assert reverse("committees:election", args=[election.pk]) in overview
    assert 'data-testid="decide-form"' in html(oscar.get(response.url))
    done = oscar.post(
        reverse("committees:decide", args=[election.pk]),
        {"decision": "approve", "decided_on": today().isoformat(), "reference": "城组〔2026〕9号"},
    )
    assert done.status_code == 302
    election.refresh_from_db()
    assert election.status == "approved" and election.decision_reference == "城组〔2026〕9号"
    holders = OfficeHolder.objects.filter(organization=a, ended_on__isnull=True)
    assert sorted(holders.values_list("position", flat=True)) == [
        "organisation",
        "publicity",
        "secretary",
    ]
    assert Term.objects.get(organization=a, ended_on__isnull=True).election_id == election.pk
    assert reverse("committees:election", args=[election.pk]) not in html(
        oscar.get(reverse("committees:overview"))
    )


def test_rejecting_an_election(people, tree, electorate, admin, en):
    a = tree["branch_a"]
    election = services.record_election(
        actor=admin,
        org=a,
        data={
            "held_on": days_ago(3),
            "seats": 3,
            "voters_expected": 7,
            "voters_present": 7,
            "candidates": [
                {"member": m, "votes": v}
                for m, v in zip(electorate, [7, 6, 5, 2, 1, 0, 0], strict=True)
            ],
        },
    )
    response = en(people["oscar"]).post(
        reverse("committees:decide", args=[election.pk]),
        {"decision": "reject", "decided_on": today().isoformat(), "note": "候选人差额不规范"},
    )
    assert response.status_code == 302
    election.refresh_from_db()
    assert election.status == "rejected" and election.decision_note == "候选人差额不规范"
    assert not OfficeHolder.objects.exists()


def test_numbers_that_do_not_add_up_are_named_and_kept(people, tree, electorate, en):
    a = tree["branch_a"]
    response = en(people["alice"]).post(
        reverse("committees:election_new", args=[a.pk]),
        election_post(electorate[:4], [7, 6, 5, 2], voters_expected=7, voters_present=9),
    )
    assert response.status_code == 200
    assert (
        "More voters present than expected" in response.context["form"].errors["voters_present"][0]
    )
    text = html(response)
    assert 'name="voters_present"' in text and 'value="9"' in text
    # the candidate rows come back as typed
    rows = response.context["rows"]
    assert [r["member"] for r in rows] == [str(m.pk) for m in electorate[:4]]
    assert [r["votes"] for r in rows] == ["7", "6", "5", "2"]
    assert f'<option value="{electorate[3].pk}" selected>' in text
    assert not Election.objects.exists()


@pytest.mark.parametrize(
    ("numbers", "field"),
    [
        ({"seats": 100}, "seats"),
        ({"seats": 40000}, "seats"),  # a smallint column on PostgreSQL
        ({"voters_expected": 2**31, "voters_present": 7}, "voters_expected"),
        ({"voters_present": 10**20}, "voters_present"),
    ],
    ids=["a-hundred-seats", "smallint-seats", "int32-voters", "huge-present"],
)
def test_numbers_out_of_bounds_are_named_and_kept(people, tree, electorate, en, numbers, field):
    a = tree["branch_a"]
    response = en(people["alice"]).post(
        reverse("committees:election_new", args=[a.pk]),
        election_post(electorate[:4], [7, 6, 5, 2], **numbers),
    )
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert f'value="{numbers[field]}"' in html(response)
    assert not Election.objects.exists()


def test_votes_out_of_bounds_mark_the_row(people, tree, electorate, en):
    a = tree["branch_a"]
    response = en(people["alice"]).post(
        reverse("committees:election_new", args=[a.pk]),
        election_post(electorate[:4], [7, 10**11, 5, 2]),
    )
    assert response.status_code == 200
    rows = response.context["rows"]
    assert rows[1]["error"] and not rows[0]["error"]
    assert not Election.objects.exists()


def test_a_bad_candidate_row_is_marked(people, tree, electorate, en):
    a = tree["branch_a"]
    votes = [7, 6, 5, 9, 1]  # the fourth has more votes than the seven present
    response = en(people["alice"]).post(
        reverse("committees:election_new", args=[a.pk]), election_post(electorate[:5], votes)
    )
    assert response.status_code == 200
    rows = response.context["rows"]
    assert "more votes than voters present" in rows[3]["error"]
    assert [bool(r["error"]) for r in rows[:5]] == [False, False, False, True, False]
    text = html(response)
    assert 'data-testid="row-error"' in text and 'value="9"' in text
    assert not Election.objects.exists()


def test_a_row_without_a_member_and_a_member_listed_twice(people, tree, electorate, en):
    a = tree["branch_a"]
    c = en(people["alice"])
    missing = election_post([electorate[0], None, electorate[1]], [5, 4, 3])
    response = c.post(reverse("committees:election_new", args=[a.pk]), missing)
    rows = response.context["rows"]
    assert rows[1]["error"] == "Choose the member." and rows[1]["votes"] == "4"
    twice = election_post([electorate[0], electorate[1], electorate[0]], [5, 4, 3])
    response = c.post(reverse("committees:election_new", args=[a.pk]), twice)
    assert "listed twice" in response.context["rows"][2]["error"]
    empty = election_post([], [])
    response = c.post(reverse("committees:election_new", args=[a.pk]), empty)
    assert response.context["table_error"] == "Add the candidates."
    assert 'data-testid="candidates-error"' in html(response)
    assert not Election.objects.exists()


def test_a_failed_election_shows_its_problems_and_cannot_be_approved(people, tree, electorate, en):
    a = tree["branch_a"]
    alice, oscar = en(people["alice"]), en(people["oscar"])
    # 5 of 7 present is not more than four fifths; 4 candidates for 4 seats is no margin
    response = alice.post(
        reverse("committees:election_new", args=[a.pk]),
        election_post(electorate[:4], [5, 5, 4, 3], seats=4, voters_present=5),
    )
    assert response.status_code == 302
    election = Election.objects.get()
    assert not election.valid and set(election.problems) == {"quorum", "margin"}
    page = html(alice.get(response.url))
    assert services.election_problem_message("quorum") in page
    assert services.election_problem_message("margin") in page
    assert 'data-status="recorded"' in page
    refused = oscar.post(
        reverse("committees:decide", args=[election.pk]),
        {"decision": "approve", "decided_on": today().isoformat()},
    )
    assert refused.status_code == 200
    assert "four fifths" in " ".join(refused.context["form"].non_field_errors())
    election.refresh_from_db()
    assert election.status == "recorded"
    assert not OfficeHolder.objects.exists()


def test_a_decision_without_a_choice_is_named(people, tree, electorate, admin, en):
    election = services.record_election(
        actor=admin,
        org=tree["branch_a"],
        data={
            "held_on": days_ago(3),
            "seats": 1,
            "form": "secretary",
            "voters_expected": 7,
            "voters_present": 7,
            "candidates": [{"member": electorate[0], "votes": 7}],
        },
    )
    response = en(people["oscar"]).post(
        reverse("committees:decide", args=[election.pk]), {"decided_on": "", "note": "备注"}
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["decision"] and form.errors["decided_on"]
    assert 'value="备注"' in html(response)


# Overview and shape ----------------------------------------------------------------------------


def test_the_overview_lists_due_overdue_and_missing_terms(people, tree, admin, en):
    a, b = tree["branch_a"], tree["branch_b"]
    services.record_term(actor=admin, org=a, form="committee", elected_on=years_ago(3, 30))
    services.record_term(actor=admin, org=b, form="secretary", elected_on=years_ago(3, -10))
    page = en(people["oscar"]).get(reverse("committees:overview"))
    assert page.status_code == 200
    due = {t.organization_id: t for t in page.context["due"]}
    assert due[a.pk].status == "due" and due[a.pk].days_left == 30
    assert due[b.pk].status == "overdue" and due[b.pk].days_overdue == 10
    text = html(page)
    assert "overdue by 10 days" in text and 'class="table-danger"' in text
    # the town itself has no term; its groups are not listed (a group has no committee)
    missing = {o.pk for o in page.context["no_term"]}
    assert tree["town"].pk in missing and a.pk not in missing
    assert tree["group_a"].pk not in missing
    assert reverse("committees:shape") in text
    # bob sees his own branch only
    bob_page = en(people["bob"]).get(reverse("committees:overview"))
    assert {t.organization_id for t in bob_page.context["due"]} == {b.pk}


def test_every_shape_problem_has_words():
    for code in rules.SHAPE_PROBLEMS:
        assert problem_label(code) != code
        assert problem_short_label(code) != code


def test_the_shape_page(people, tree, roster, en):
    c = en(people["oscar"])
    page = c.get(reverse("committees:shape"))
    assert page.status_code == 200
    counts = {row["code"]: row["count"] for row in page.context["kinds_table"]}
    # town, branch A and branch B have no secretary; both branches have fewer than 3 full members
    assert counts["no_secretary"] == 3
    assert counts["too_few_full"] == 2
    text = html(page)
    assert problem_label("too_few_full") in text
    assert 'id="shape-chart"' in text and 'id="shape-chart-data"' in text

    only = c.get(reverse("committees:shape"), {"problem": "too_few_full"})
    assert {s.org_id for s in only.context["page"]} == {
        tree["branch_a"].pk,
        tree["branch_b"].pk,
    }
    within = c.get(reverse("committees:shape"), {"org": tree["branch_a"].pk})
    assert {s.org_id for s in within.context["page"]} == {tree["branch_a"].pk}
    # nonsense in the filter is ignored, an organisation outside the scope is not found
    assert c.get(reverse("committees:shape"), {"problem": "<x>"}).status_code == 200
    assert c.get(reverse("committees:shape"), {"org": tree["other_town"].pk}).status_code == 404
    assert c.get(reverse("committees:shape"), {"org": "abc"}).status_code == 404


def test_the_home_page_counts_shape_problems_and_re_elections(people, tree, roster, admin, en):
    services.record_term(
        actor=admin, org=tree["branch_b"], form="secretary", elected_on=years_ago(3, -1)
    )
    c = en(people["oscar"])
    home = html(c.get(reverse("core:home")))
    assert f'hx-get="{reverse("committees:home_card")}"' in home
    card = c.get(reverse("committees:home_card"))
    assert card.context["overdue"] == 1 and card.context["due"] == 0
    assert {row["code"]: row["count"] for row in card.context["shape"]}["no_secretary"] == 3
    text = html(card)
    assert 'data-testid="reelection-overdue">1<' in text
    assert f'href="{reverse("committees:shape")}?problem=no_secretary"' in text


def test_no_card_for_those_who_see_no_organisation(tree, make_user, en):
    nobody = en(make_user("nobody"))
    assert "committees:home_card" not in html(nobody.get(reverse("core:home")))
    assert reverse("committees:home_card") not in html(nobody.get(reverse("core:home")))
    assert nobody.get(reverse("committees:home_card")).status_code == 404


def test_the_organisation_page_offers_restructuring_to_those_who_may(people, tree, en):
    a = tree["branch_a"]
    oscar_page = html(en(people["oscar"]).get(reverse("core:org_detail", args=[a.pk])))
    alice_page = html(en(people["alice"]).get(reverse("core:org_detail", args=[a.pk])))
    for name in ("committees:merge", "committees:split", "committees:dissolve"):
        url = reverse(name, args=[a.pk])
        assert f'href="{url}"' in oscar_page
        assert f'href="{url}"' not in alice_page
    town_page = html(en(people["oscar"]).get(reverse("core:org_detail", args=[tree["town"].pk])))
    assert reverse("committees:split", args=[tree["town"].pk]) not in town_page


# No query per row ------------------------------------------------------------------------------


def _grow(admin, tree, make_member, n, start):
    """n more branches under the town, each with a member, a term due soon, an election
    awaiting approval and a secretary; and n branches with nothing recorded."""
    town = tree["town"]
    for i in range(start, start + n):
        org = core_services.create_organization(
            actor=admin, parent=town, code=f"Q{i:03d}", name=f"第{i}支部", kind="branch"
        )
        bare = core_services.create_organization(
            actor=admin, parent=town, code=f"E{i:03d}", name=f"空{i}支部", kind="branch"
        )
        member = make_member(org, f"书记{i}", birth="1975-02-03")
        make_member(bare, f"党员{i}", birth="1976-02-03")
        services.record_term(actor=admin, org=org, form="secretary", elected_on=years_ago(3, 20))
        services.appoint(
            actor=admin, org=org, member=member, position="secretary", started_on=days_ago(30)
        )
        services.record_election(
            actor=admin,
            org=org,
            data={
                "kind": "by_election",
                "form": "secretary",
                "held_on": days_ago(2),
                "seats": 1,
                "voters_expected": 1,
                "voters_present": 1,
                "candidates": [{"member": member, "votes": 1, "position": "secretary"}],
            },
        )


def _count(client, url, params=None) -> int:
    import uuid

    from django.core.cache import caches

    cache = caches["default"]  # a cold cache without emptying a shared server
    cache.key_prefix = f"{cache.key_prefix}:{uuid.uuid4().hex}"
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize(
    "url,params",
    [
        ("committees:overview", {}),
        ("committees:shape", {}),
        ("committees:shape", {"problem": "too_few_full"}),
        ("core:home", {}),
        ("committees:home_card", {}),
    ],
)
def test_lists_cost_the_same_for_3_and_12_branches(
    people, tree, admin, make_member, en, url, params, django_assert_max_num_queries
):
    c = en(people["oscar"])
    _grow(admin, tree, make_member, 3, 0)
    c.get(reverse(url), params)  # warm up: session, content types
    small = _count(c, reverse(url), params)
    _grow(admin, tree, make_member, 9, 100)
    large = _count(c, reverse(url), params)
    assert small == large, (url, small, large)
    with django_assert_max_num_queries(large):
        c.get(reverse(url), params)
    page = c.get(reverse(url), params)
    if url == "committees:overview":
        assert page.context["due"].paginator.count == 12
        assert page.context["approvals"].paginator.count == 12
    elif url == "committees:shape" and not params:
        counts = {row["code"]: row["count"] for row in page.context["kinds_table"]}
        assert counts["too_few_full"] == 2 + 24


def test_a_page_turn_of_the_shape_warnings_reads_the_cache(people, tree, admin, make_member, en):
    c = en(people["oscar"])
    _grow(admin, tree, make_member, 3, 0)
    url = reverse("committees:shape")
    cold = _count(c, url)  # a fresh cache

    with CaptureQueriesContext(connection) as captured:
        again = c.get(url, {"page": "1"})
    assert again.status_code == 200
    assert len(captured.captured_queries) < cold
    report = [q["sql"] for q in captured.captured_queries]
    # Neither members nor offices counted again.
    assert not any("GROUP BY" in sql or "committees_officeholder" in sql for sql in report)
    assert again.context["organisations_out_of_shape"] > 0


def test_the_organisation_page_costs_the_same_with_a_long_history(
    people, tree, electorate, admin, en
):
    a = tree["branch_a"]
    c = en(people["alice"])
    url = reverse("committees:org", args=[a.pk])

    def offices(start, n):
        for i in range(n):
            holder = services.appoint(
                actor=admin,
                org=a,
                member=electorate[(start + i) % len(electorate)],
                position="member",
                started_on=days_ago(400 - start - i),
            )
            services.end_office(actor=admin, holder=holder, ended_on=days_ago(300 - start - i))

    offices(0, 2)
    c.get(url)
    small = _count(c, url)
    offices(10, 12)
    assert _count(c, url) == small


def test_a_party_group_has_a_group_leader(people, tree, roster, en):
    g = tree["group_a"]
    c = en(people["alice"])
    page = c.get(reverse("committees:org", args=[g.pk]))
    assert page.status_code == 200
    assert [value for value, _label in page.context["positions"]] == ["group_leader"]
    assert 'data-testid="term-form"' not in html(page)  # a group elects no committee
    # the leader comes from the group's branch
    assert roster["zhang"].pk in {m.pk for m in page.context["members"]}
    response = c.post(
        reverse("committees:appoint", args=[g.pk]),
        {
            "member": roster["zhang"].pk,
            "position": "group_leader",
            "started_on": days_ago(1).isoformat(),
        },
    )
    assert response.status_code == 302
    assert OfficeHolder.objects.get(organization=g).position == "group_leader"


def test_many_members_are_found_by_searching(people, tree, roster, en, monkeypatch):
    from dangjian.committees import views

    monkeypatch.setattr(views, "MEMBER_CHOICES", 1)
    a = tree["branch_a"]
    c = en(people["alice"])
    page = c.get(reverse("committees:org", args=[a.pk]))
    assert page.context["more_members"] and len(page.context["members"]) == 1
    search = reverse("committees:member_options", args=[a.pk])
    assert f'hx-get="{search}"' in html(page)
    found = html(c.get(search, {"q": "王"}))
    assert f'value="{roster["wang"].pk}"' in found and f'value="{roster["zhang"].pk}"' not in found
    # a member chosen beyond the first ones is still offered, selected, after an error
    response = c.post(
        reverse("committees:appoint", args=[a.pk]),
        {"member": roster["wang"].pk, "position": "secretary", "started_on": "2999-01-01"},
    )
    assert selected_value(html(response), "member") == str(roster["wang"].pk)
