"""Rows of the OpenAPI guard (tests/core/test_openapi.py) for /api/v1/transfers.

Same shape as CALLS there: (method, path) -> function(ctx) giving {"path", "query", "body"}; each
call must succeed for oscar (org admin of the town committee, above branches A and B). Each row
records what it needs through the services as the system administrator, on members of its own.
"""

import datetime

from django.utils import timezone

from dangjian.members import services as member_services
from dangjian.transfers import services as transfer_services
from tests.members.calls_members import member, new_id_number

API = "/api/v1"
T = f"{API}/transfers"


def _today() -> datetime.date:
    return timezone.localdate()


def transfer(ctx):
    """A pending transfer of a new member of branch A to branch B."""
    return transfer_services.start_transfer(
        actor=ctx["admin"], member=member(ctx), to_org=ctx["tree"]["branch_b"], reason="工作调动"
    )


def letter(ctx):
    return transfer_services.issue_letter(
        actor=ctx["admin"], member=member(ctx), counterpart="某市某区某街道党工委"
    )


def incoming(ctx, number):
    return transfer_services.register_incoming(
        actor=ctx["admin"],
        to_org=ctx["tree"]["branch_a"],
        letter_number=number,
        counterpart="外县委组织部",
        person_name="孙八",
    )


def stay(ctx):
    """A member of branch A away at branch B for two months."""
    return transfer_services.register_mobile_out(
        actor=ctx["admin"],
        member=member(ctx),
        host_org=ctx["tree"]["branch_b"],
        expected_return=_today() + datetime.timedelta(days=60),
        card_number="LD001",
    )


def lost(ctx):
    """A member of branch A out of contact since January 2024 (flagged for suspension)."""
    found = member(ctx, name="周九")
    member_services.record_event(
        actor=ctx["admin"], member=found, kind="lost_contact", on=datetime.date(2024, 1, 10)
    )
    return found


def _list(ctx):
    transfer(ctx)
    return {
        "query": {
            "side": "outgoing",
            "direction": "internal",
            "state": "pending",
            "org": ctx["tree"]["town"].pk,
            "page": 1,
            "page_size": 10,
        }
    }


def _confirm(ctx):
    return {
        "path": {"transfer_id": incoming(ctx, "外组〔2026〕8号").pk},
        "body": {
            "record": {
                "name": "孙八",
                "id_number": new_id_number(ctx, "1988-02-02"),
                "joined_on": "2012-07-01",
                "full_on": "2013-07-01",
                "category": "full",
                "phone": "13700002222",
                "education": "本科",
            }
        },
    }


def _mobile_list(ctx):
    stay(ctx)
    query = {"side": "out", "active": True, "org": ctx["tree"]["town"].pk}
    return {"query": query | {"page": 1}}


def _contact(ctx):
    lost(ctx)
    return {"query": {"org": ctx["tree"]["town"].pk, "flag": "suspend", "page": 1}}


TRANSFER_CALLS = {
    ("get", T): _list,
    ("post", T): lambda ctx: {
        "body": {
            "member_id": member(ctx).pk,
            "to_org_id": ctx["tree"]["branch_b"].pk,
            "reason": "工作调动",
        }
    },
    ("get", f"{T}/targets"): lambda ctx: {"query": {"q": "街"}},
    ("get", f"{T}/{{transfer_id}}"): lambda ctx: {"path": {"transfer_id": transfer(ctx).pk}},
    ("post", f"{T}/{{transfer_id}}/accept"): lambda ctx: {
        "path": {"transfer_id": transfer(ctx).pk},
        "body": {"on": _today().isoformat()},
    },
    ("post", f"{T}/{{transfer_id}}/return"): lambda ctx: {
        "path": {"transfer_id": transfer(ctx).pk},
        "body": {"reason": "不在本单位工作"},
    },
    ("post", f"{T}/{{transfer_id}}/cancel"): lambda ctx: {
        "path": {"transfer_id": transfer(ctx).pk},
        "body": {"reason": "调动取消"},
    },
    ("post", f"{T}/letters"): lambda ctx: {
        "body": {
            "member_id": member(ctx).pk,
            "counterpart": "某市某区某街道党工委",
            "addressee": "某街道党工委组织科",
            "valid_days": 30,
            "reason": "迁居",
        }
    },
    ("post", f"{T}/{{transfer_id}}/receipt"): lambda ctx: {
        "path": {"transfer_id": letter(ctx).pk},
        "body": {"on": _today().isoformat()},
    },
    ("post", f"{T}/incoming"): lambda ctx: {
        "body": {
            "to_org_id": ctx["tree"]["branch_a"].pk,
            "letter_number": "外组〔2026〕7号",
            "counterpart": "外县委组织部",
            "person_name": "吴十",
            "valid_until": (_today() + datetime.timedelta(days=30)).isoformat(),
            "reason": "工作调入",
        }
    },
    ("post", f"{T}/{{transfer_id}}/confirm"): _confirm,
    ("get", f"{T}/mobile"): _mobile_list,
    ("post", f"{T}/mobile/out"): lambda ctx: {
        "body": {
            "member_id": member(ctx).pk,
            "host_org_id": ctx["tree"]["branch_b"].pk,
            "expected_return": (_today() + datetime.timedelta(days=90)).isoformat(),
            "card_number": "LD002",
            "note": "外出务工",
        }
    },
    ("post", f"{T}/mobile/in"): lambda ctx: {
        "body": {
            "host_org_id": ctx["tree"]["branch_a"].pk,
            "person_name": "郑十一",
            "home_text": "外省某村党支部",
            "card_number": "LD900",
        }
    },
    ("post", f"{T}/mobile/{{stay_id}}/return"): lambda ctx: {
        "path": {"stay_id": stay(ctx).pk},
        "body": {},
    },
    ("post", f"{T}/mobile/{{stay_id}}/convert"): lambda ctx: {
        "path": {"stay_id": stay(ctx).pk},
        "body": {"reason": "在流入地定居"},
    },
    ("get", f"{T}/contact"): _contact,
    ("post", f"{T}/contact/{{member_id}}/decision"): lambda ctx: {
        "path": {"member_id": lost(ctx).pk},
        "body": {"decision": "suspend", "reference": "东街支委会决议1号"},
    },
}
