import datetime

import pytest

from dangjian.committees import restructure, selectors, services
from dangjian.core.errors import Forbidden, ValidationFailed

pytestmark = pytest.mark.django_db


def test_election_approval_and_shape(people, tree, roster, make_member):
    alice, oscar = people["alice"], people["oscar"]
    a = tree["branch_a"]
    more = [make_member(a, f"党员{i}", birth=f"1980-01-0{i + 1}") for i in range(5)]
    cands = [roster["zhang"], roster["wang"], *more]
    data = {
        "kind": "general",
        "form": "committee",
        "held_on": datetime.date(2026, 3, 1),
        "seats": 3,
        "voters_expected": 7,
        "voters_present": 7,
        "candidates": [
            {"member": m, "votes": v, "position": p}
            for m, v, p in zip(
                cands,
                [7, 6, 5, 2, 1, 0, 0],
                ["secretary", "organisation", "publicity", "member", "member", "member", "member"],
                strict=True,
            )
        ],
    }
    e = services.record_election(actor=alice, org=a, data=data)
    assert e.valid and e.margin_ok
    with pytest.raises(Forbidden):
        services.decide_election(actor=alice, election=e, approve=True)
    services.decide_election(actor=oscar, election=e, approve=True)
    holders = list(selectors.current_holders(alice, a))
    assert len(holders) == 3
    term = selectors.current_term(alice, a)
    assert term.ends_on == datetime.date(2029, 3, 1)
    report = {s.org_id: s for s in selectors.shape_report(oscar)}
    assert report[a.pk].committee_size == 3
    assert "no_secretary" in report[tree["branch_b"].pk].problems
    assert "no_secretary" not in report[a.pk].problems


def test_bad_numbers(people, tree, roster):
    data = {
        "held_on": datetime.date(2026, 3, 1),
        "seats": 1,
        "voters_expected": 5,
        "voters_present": 6,
        "candidates": [{"member": roster["zhang"], "votes": 3}],
    }
    with pytest.raises(ValidationFailed) as exc:
        services.record_election(actor=people["alice"], org=tree["branch_a"], data=data)
    assert exc.value.code == "too_many_present"


def test_merge(people, tree, roster, admin):
    preview = restructure.preview_merge(
        actor=admin, source=tree["branch_b"], target=tree["branch_a"]
    )
    assert preview.members == 2 and preview.ok
    restructure.merge(actor=admin, source=tree["branch_b"], target=tree["branch_a"])
    tree["branch_b"].refresh_from_db()
    assert tree["branch_b"].status == "dissolved"
    roster["zhao"].refresh_from_db()
    assert roster["zhao"].organization_id == tree["branch_a"].pk
