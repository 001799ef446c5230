"""Rows of the OpenAPI guard (tests/core/test_openapi.py) for /api/v1/committees.

Same shape as CALLS there: (method, path) -> function(ctx) giving {"path", "query", "body"}; each
call must succeed for oscar (org admin of the town committee). Earlier rows of the guard change
the tree (branch B moves, group A is dissolved, members arrive in branch A), so each row here
works on branches of its own, made through the services as the system administrator.
"""

import datetime
import itertools

from dangjian.committees import services as committee_services
from dangjian.core import services as core_services
from dangjian.members import services as member_services
from dangjian.members.models import Member
from tests.members.calls_members import new_id_number

API = "/api/v1"
C = f"{API}/committees"


def branch(ctx, name="测试党支部"):
    """A new branch under the town committee."""
    seq = ctx.setdefault("_committee_branch_seq", itertools.count(1))
    return core_services.create_organization(
        actor=ctx["admin"],
        parent=ctx["tree"]["town"],
        code=f"K{next(seq):02d}",
        name=name,
        kind="branch",
    )


def full_member(ctx, org, name="党员"):
    data = {
        "name": name,
        "id_number": new_id_number(ctx),
        "joined_on": datetime.date(2005, 7, 1),
        "full_on": datetime.date(2006, 7, 1),
        "category": "full",
    }
    return member_services.create_member(actor=ctx["admin"], organization=org, data=data)


def term(ctx, elected_on=datetime.date(2023, 12, 1)):
    """A branch with a current term (due 2026-12-01 by the 2018 rule) and a secretary."""
    org = branch(ctx)
    made = committee_services.record_term(
        actor=ctx["admin"], org=org, form="committee", elected_on=elected_on
    )
    committee_services.appoint(
        actor=ctx["admin"],
        org=org,
        member=full_member(ctx, org, "书记甲"),
        position="secretary",
        started_on=elected_on,
    )
    return org, made


def holder(ctx):
    org = branch(ctx)
    return committee_services.appoint(
        actor=ctx["admin"],
        org=org,
        member=full_member(ctx, org),
        position="organisation",
        started_on=datetime.date(2024, 1, 1),
    )


def election_body(ctx, org):
    """A valid re-election in `org`: four full members, three seats, all present."""
    people = [full_member(ctx, org, f"候选人{i}") for i in range(4)]
    votes = [4, 4, 3, 1]
    positions = ["secretary", "organisation", "publicity", "member"]
    return {
        "kind": "general",
        "form": "committee",
        "held_on": "2026-03-01",
        "seats": 3,
        "voters_expected": 4,
        "voters_present": 4,
        "candidates": [
            {"member_id": m.pk, "votes": v, "position": p}
            for m, v, p in zip(people, votes, positions, strict=True)
        ],
    }


def election(ctx):
    org = branch(ctx)
    body = election_body(ctx, org)
    data = {
        **body,
        "held_on": datetime.date.fromisoformat(body["held_on"]),
        "candidates": [
            {**c, "member": Member.objects.get(pk=c["member_id"])} for c in body["candidates"]
        ],
    }
    return committee_services.record_election(actor=ctx["admin"], org=org, data=data)


def _record_election(ctx):
    org = branch(ctx)
    return {"path": {"org_id": org.pk}, "body": election_body(ctx, org)}


def _merge(ctx):
    source, target = branch(ctx, "并入前党支部"), branch(ctx, "并入后党支部")
    full_member(ctx, source)
    return {"path": {"org_id": source.pk}, "body": {"into_id": target.pk, "dry_run": False}}


def _split(ctx):
    org = branch(ctx)
    stays, moves = full_member(ctx, org), full_member(ctx, org)
    assert stays.pk != moves.pk
    return {
        "path": {"org_id": org.pk},
        "body": {
            "code": "K90",
            "name": "分出党支部",
            "short_name": "分出",
            "kind": "branch",
            "member_ids": [moves.pk],
            "dry_run": False,
        },
    }


def _dissolve(ctx):
    org, target = branch(ctx, "撤销党支部"), branch(ctx, "接收党支部")
    full_member(ctx, org)
    return {
        "path": {"org_id": org.pk},
        "body": {"move_members_to": target.pk, "on": None, "dry_run": False},
    }


def _appoint(ctx):
    org = branch(ctx)
    return {
        "path": {"org_id": org.pk},
        "body": {
            "member_id": full_member(ctx, org).pk,
            "position": "secretary",
            "started_on": "2024-01-01",
            "reference": "城党〔2024〕2号",
        },
    }


def _elections(ctx):
    election(ctx)
    query = {"org": ctx["tree"]["town"].pk, "status": "recorded", "to_decide": False}
    return {"query": query | {"page": 1, "page_size": 10}}


def _reelection(ctx):
    term(ctx)
    return {"query": {"root": ctx["tree"]["town"].pk, "lead_days": 90, "page": 1}}


COMMITTEE_CALLS = {
    ("get", f"{C}/orgs/{{org_id}}"): lambda ctx: {"path": {"org_id": term(ctx)[0].pk}},
    ("post", f"{C}/orgs/{{org_id}}/terms"): lambda ctx: {
        "path": {"org_id": branch(ctx).pk},
        "body": {"form": "secretary", "elected_on": "2024-03-01"},
    },
    ("post", f"{C}/terms/{{term_id}}/shift"): lambda ctx: {
        "path": {"term_id": term(ctx)[1].pk},
        "body": {
            "due_on": "2027-03-31",
            "reason": "与村委会换届同步",
            "reference": "城组〔2026〕1号",
        },
    },
    ("post", f"{C}/orgs/{{org_id}}/holders"): _appoint,
    ("post", f"{C}/holders/{{holder_id}}/end"): lambda ctx: {
        "path": {"holder_id": holder(ctx).pk},
        "body": {"ended_on": "2025-01-01", "reason": "工作调动"},
    },
    ("get", f"{C}/elections"): _elections,
    ("post", f"{C}/orgs/{{org_id}}/elections"): _record_election,
    ("get", f"{C}/elections/{{election_id}}"): lambda ctx: {
        "path": {"election_id": election(ctx).pk}
    },
    ("post", f"{C}/elections/{{election_id}}/decision"): lambda ctx: {
        "path": {"election_id": election(ctx).pk},
        "body": {
            "approve": True,
            "decided_on": "2026-03-15",
            "reference": "城党〔2026〕9号",
            "note": "同意",
        },
    },
    ("get", f"{C}/reelection"): _reelection,
    ("get", f"{C}/shape"): lambda ctx: {
        "query": {"root": ctx["tree"]["town"].pk, "problem": "too_few_full", "page": 1}
    },
    ("post", f"{C}/orgs/{{org_id}}/merge"): _merge,
    ("post", f"{C}/orgs/{{org_id}}/split"): _split,
    ("post", f"{C}/orgs/{{org_id}}/dissolve"): _dissolve,
}
