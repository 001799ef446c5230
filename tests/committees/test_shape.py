"""The shape report (committees.selectors.shape_report) on a generated tree: a committee with
forty branches of varied sizes and leaderships, a general branch and a committee under it. The
expected problems are written out per pattern here, not computed by the rules under test."""

import datetime
import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dangjian.committees import selectors
from dangjian.committees.models import OfficeHolder, Term
from dangjian.core import rules
from dangjian.core import services as core_services
from dangjian.core.models import Organization, User
from dangjian.members.models import Member

pytestmark = pytest.mark.django_db

D = datetime.date.fromisoformat
POSTS = ["secretary", "organisation", "publicity", "discipline"]

# kind, full members, probationary, who left (not counted), leadership, expected problems.
# leadership: "" nobody; "s" a secretary; "sd" secretary and deputy; "cN" an elected committee
# of N (a term of the committee form); "s+N" a secretary and N committee posts, no term.
PATTERNS = [
    ("branch", 5, 1, 0, "s", []),
    ("branch", 2, 1, 3, "s", ["too_few_full"]),
    ("branch", 8, 0, 0, "s", ["needs_committee"]),
    ("branch", 10, 2, 0, "c5", []),
    ("branch", 9, 0, 0, "c2", ["committee_too_small"]),
    ("branch", 20, 1, 0, "c8", ["committee_too_large"]),
    ("branch", 4, 0, 0, "", ["no_secretary"]),
    ("branch", 50, 5, 0, "c5", ["branch_too_large", "should_be_general_branch"]),
    ("joint_branch", 3, 0, 0, "s", []),
    ("branch", 0, 0, 0, "", ["too_few_full", "no_secretary"]),
    ("branch", 6, 0, 0, "sd", []),  # a deputy does not make a committee
    ("branch", 7, 0, 0, "s+2", []),  # committee posts without a recorded term: a committee of 3
    ("branch", 1, 2, 0, "", ["too_few_full", "no_secretary"]),
]


class Builder:
    def __init__(self, admin):
        self.admin = admin
        self.codes = itertools.count(1)
        self.people = itertools.count(1)

    def org(self, parent, kind, name=None):
        n = next(self.codes)
        return core_services.create_organization(
            actor=self.admin, parent=parent, code=f"S{n:03d}", name=name or f"{kind}{n}", kind=kind
        )

    def members(self, org, full, probationary=0, left=0):
        rows = []
        for i in range(full + probationary + left):
            n = next(self.people)
            is_probationary = full <= i < full + probationary
            rows.append(
                Member(
                    organization=org,
                    org_path=org.path,
                    name=f"党员{n}",
                    sex="1",
                    birth_date=D("1980-01-01"),
                    id_number_encrypted="-",
                    id_number_hash=f"shape-{n}",
                    category="probationary" if is_probationary else "full",
                    status="transferred_out" if i >= full + probationary else "active",
                    joined_on=D("2010-01-01"),
                    full_on=None if is_probationary else D("2011-01-01"),
                )
            )
        Member.objects.bulk_create(rows)
        return [m for m in rows if m.category == "full" and m.status == "active"]

    def leadership(self, org, full_members, code):
        if not code:
            return
        if code.startswith("c"):
            size, form = int(code[1:]), "committee"
            Term.objects.create(
                organization=org,
                form=form,
                elected_on=D("2024-01-01"),
                term_years=3,
                rule_version="2018",
                ends_on=D("2027-01-01"),
                due_on=D("2027-01-01"),
            )
            posts = (POSTS + ["member"] * size)[:size]
        elif code.startswith("s+"):
            posts = ["secretary"] + (POSTS[1:] + ["member"] * 9)[: int(code[2:])]
        else:
            posts = {"s": ["secretary"], "sd": ["secretary", "deputy"]}[code]
        OfficeHolder.objects.bulk_create(
            OfficeHolder(
                organization=org,
                member=m,
                person_name=m.name,
                position=post,
                started_on=D("2024-01-01"),
            )
            for m, post in zip(full_members, posts, strict=False)
        )


@pytest.fixture
def generated(tree, admin):
    """新区党委 (a committee under the county) with 40 branches cycling through PATTERNS with
    sizes varied within each pattern, a general branch of three small branches, a committee of
    two small branches, a Party group and a dissolved branch. Returns (root, expected problems
    by organisation id)."""
    build = Builder(admin)
    root = build.org(tree["county"], "committee", "新区党委")
    expected: dict[int, list[str]] = {}
    for i in range(40):
        kind, full, probationary, left, leadership, problems = PATTERNS[i % len(PATTERNS)]
        # Vary the size without crossing a boundary of the pattern.
        if leadership == "s" and problems == [] and kind == "branch":
            probationary += i % 4
        if problems == ["committee_too_large"]:
            full += i % 7
        org = build.org(root, kind)
        fulls = build.members(org, full, probationary, left)
        build.leadership(org, fulls, leadership)
        expected[org.pk] = problems
    general = build.org(root, "general_branch", "新区机关党总支")
    for _ in range(3):
        branch = build.org(general, "branch")
        build.leadership(branch, build.members(branch, 5, 1), "s")
        expected[branch.pk] = []
    gb_officers = []
    for branch_pk in list(expected)[-3:]:
        gb_officers += list(Member.objects.filter(organization_id=branch_pk, category="full")[:2])
    build.leadership(general, gb_officers, "c5")
    expected[general.pk] = ["general_branch_too_small"]  # 18 members
    sub = build.org(root, "committee", "新区学校党委")
    for _ in range(2):
        branch = build.org(sub, "branch")
        build.leadership(branch, build.members(branch, 4), "s")
        expected[branch.pk] = []
    expected[sub.pk] = ["needs_committee", "committee_below_100", "no_secretary"]
    group_parent = Organization.objects.get(pk=next(iter(expected)))
    build.org(group_parent, "group")  # groups are not in the report
    gone = build.org(root, "branch")
    core_services.dissolve_organization(actor=admin, org=gone)
    root_officers = list(Member.objects.filter(org_path__startswith=root.path, category="full")[:7])
    build.leadership(root, root_officers, "c7")
    expected[root.pk] = []
    return root, expected


@pytest.fixture
def overseer(generated, make_user, admin):
    user = make_user("overseer")
    core_services.assign_role(actor=admin, user=user, org=generated[0], role="org_admin")
    return user


def test_the_report_finds_exactly_the_expected_problems(generated, overseer):
    root, expected = generated
    report = selectors.shape_report(overseer, root)
    assert {s.org_id: s.problems for s in report} == expected
    assert [s.path for s in report] == sorted(s.path for s in report)  # tree order


def test_counts_are_of_the_whole_subtree_and_of_active_members(generated, overseer):
    root, _expected = generated
    by_name = {s.name: s for s in selectors.shape_report(overseer, root)}
    general = by_name["新区机关党总支"]
    assert (general.members, general.full_members, general.committee_size) == (18, 15, 5)
    top = by_name["新区党委"]
    assert (
        top.members
        == Member.objects.filter(org_path__startswith=root.path, status="active").count()
    )
    assert top.committee_size == 7 and top.has_secretary


def test_the_whole_scope_without_a_root(generated, overseer):
    root, expected = generated
    assert {s.org_id for s in selectors.shape_report(overseer)} == set(expected)


def test_a_branch_secretary_sees_only_their_branch(generated, make_user, admin):
    root, expected = generated
    branch = Organization.objects.get(pk=next(iter(expected)))
    secretary = make_user("branch_secretary")
    core_services.assign_role(actor=admin, user=secretary, org=branch, role="secretary")
    assert [s.org_id for s in selectors.shape_report(secretary)] == [branch.pk]


def test_shape_counts_per_problem_over_the_scope(generated, overseer):
    _root, expected = generated
    counts = selectors.shape_counts(overseer)
    assert set(counts) == set(rules.SHAPE_PROBLEMS)
    for problem in rules.SHAPE_PROBLEMS:
        assert counts[problem] == sum(problem in p for p in expected.values()), problem
    assert counts["no_secretary"] > 0 and counts["committee_too_large"] > 0


def test_the_report_takes_the_same_queries_for_more_organisations(generated, overseer, admin):
    root, _expected = generated

    def queries() -> int:
        user = User.objects.get(username="overseer")  # roles not cached yet
        with CaptureQueriesContext(connection) as captured:
            report = selectors.shape_report(user, root)
        assert report
        return len(captured)

    before = queries()
    build = Builder(admin)
    build.codes = itertools.count(500)
    build.people = itertools.count(5000)
    for _ in range(25):
        org = build.org(root, "branch")
        build.leadership(org, build.members(org, 8, 1), "c3")
    assert queries() == before <= 6


# The cache: a page turn reads it; any change is seen at once --------------------------------


def _counted(user, root=None):
    with CaptureQueriesContext(connection) as captured:
        report = selectors.shape_report(user, root)
    return report, [q["sql"] for q in captured]


def test_a_second_look_reads_the_cache(generated, overseer):
    root, expected = generated
    user = User.objects.get(username="overseer")
    first, cold = _counted(user, root)
    again, warm = _counted(user, root)
    assert [(s.org_id, s.problems) for s in again] == [(s.org_id, s.problems) for s in first]
    assert {s.org_id: s.problems for s in again} == expected
    # Only the check that nothing changed since (the latest audit event).
    assert len(warm) == 1 and "MAX" in warm[0].upper()
    assert len(cold) > len(warm)


def test_any_change_is_seen_at_once(generated, overseer, admin):
    root, expected = generated
    lacking = next(pk for pk, problems in expected.items() if "no_secretary" in problems)
    org = Organization.objects.get(pk=lacking)
    assert (
        "no_secretary"
        in {s.org_id: s.problems for s in selectors.shape_report(overseer, root)}[lacking]
    )
    full = Member.objects.filter(organization=org, status="active", category="full").first()
    from dangjian.committees import services

    services.appoint(
        actor=admin, org=org, member=full, position="secretary", started_on=D("2025-01-01")
    )
    after = {s.org_id: s.problems for s in selectors.shape_report(overseer, root)}
    assert "no_secretary" not in after[lacking]


def test_the_cache_is_per_scope_and_root(generated, overseer, make_user, admin):
    root, expected = generated
    branch = Organization.objects.get(pk=next(iter(expected)))
    secretary = make_user("branch_secretary")
    core_services.assign_role(actor=admin, user=secretary, org=branch, role="secretary")
    # Nothing changes from here on: each answer comes from its own cache entry.
    assert len(selectors.shape_report(overseer)) == len(expected)
    assert [s.org_id for s in selectors.shape_report(secretary)] == [branch.pk]
    assert [s.org_id for s in selectors.shape_report(overseer, branch)] == [branch.pk]
    assert len(selectors.shape_report(overseer, root)) == len(expected)
    assert len(selectors.shape_report(overseer)) == len(expected)


def test_out_of_shape_is_the_report_with_problems_cached_apart(generated, overseer, admin):
    root, expected = generated
    user = User.objects.get(username="overseer")
    wanted = sorted(pk for pk, problems in expected.items() if problems)
    assert sorted(s.org_id for s in selectors.out_of_shape(user, root)) == wanted
    with CaptureQueriesContext(connection) as captured:
        again = selectors.out_of_shape(user, root)
    assert sorted(s.org_id for s in again) == wanted
    assert len(captured) == 1  # only the check that nothing changed since
    lacking = next(pk for pk, problems in expected.items() if problems == ["no_secretary"])
    org = Organization.objects.get(pk=lacking)
    full = Member.objects.filter(organization=org, status="active", category="full").first()
    from dangjian.committees import services

    services.appoint(
        actor=admin, org=org, member=full, position="secretary", started_on=D("2025-01-01")
    )
    assert lacking not in {s.org_id for s in selectors.out_of_shape(user, root)}
    assert selectors.shape_counts(user)["no_secretary"] == (
        sum("no_secretary" in p for p in expected.values()) - 1
    )
