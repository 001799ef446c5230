"""Rows of the OpenAPI guard (tests/core/test_openapi.py) for /api/v1/members.

Same shape as CALLS there: (method, path) -> function(ctx) giving {"path", "query", "body"}; each
call must succeed for oscar (org admin of the town committee). ctx has "tree", "people", "admin";
the helpers below record what a call needs through the services, as the system administrator.
"""

import datetime
import itertools

from dangjian.members import services as member_services
from tests.idnumbers import make_id

API = "/api/v1"
M = f"{API}/members"


def new_id_number(ctx, birth="1980-05-01", sex=1) -> str:
    """A valid ID number not used yet in this test (the sequence lives in ctx)."""
    seq = ctx.setdefault("_member_seq", itertools.count(300))
    return make_id(birth, sex, seq=next(seq))


def member(ctx, org="branch_a", **extra):
    """Record a member (张三, full since 2006, clerk with a degree) through the service."""
    data = {
        "name": "张三",
        "id_number": new_id_number(ctx),
        "joined_on": datetime.date(2005, 7, 1),
        "full_on": datetime.date(2006, 7, 1),
        "category": "full",
        "phone": "13900002222",
        "education": "21",
        "job_category": "05",
        **extra,
    }
    return member_services.create_member(
        actor=ctx["admin"], organization=ctx["tree"][org], data=data
    )


def own_member(ctx):
    """A member record linked to oscar's account (for /members/me)."""
    if "own_member" not in ctx:
        found = member(ctx, name="欧阳明")
        found.user = ctx["people"]["oscar"]
        found.save(update_fields=["user"])
        ctx["own_member"] = found
    return ctx["own_member"]


ROWS = {
    "family": {"relation": "配偶", "name": "李梅", "birth_date": "1982-02-03"},
    "history": {"kind": "work", "started_on": "2003-09-01", "place": "县供电公司"},
    "rewards": {"kind": "reward", "decided_on": "2019-07-01", "title": "优秀共产党员"},
}
PATCHES = {
    "family": {"political_status": "群众", "work_unit": "县一中"},
    "history": {"ended_on": "2010-06-30", "role": "技术员"},
    "rewards": {"issuer": "城关镇党委", "reference": "城党〔2019〕5号"},
}


def related_row(ctx, kind):
    """A member with one row of the family, history or rewards table."""
    found = member(ctx)
    data = dict(ROWS[kind])
    for key in ("birth_date", "started_on", "decided_on"):
        if key in data:
            data[key] = datetime.date.fromisoformat(data[key])
    row = member_services.save_related(actor=ctx["admin"], member=found, kind=kind, data=data)
    return found, row


def _one(ctx):
    return {"member_id": member(ctx).pk}


def _row_path(ctx, kind):
    found, row = related_row(ctx, kind)
    return {"member_id": found.pk, "row_id": row.pk}


def _me(ctx):
    own_member(ctx)
    return {}


def _my_contact(ctx):
    own_member(ctx)
    return {
        "body": {"phone": "13900003333", "telephone": "0571-88886666", "home_address": "东街1号"}
    }


def _list(ctx):
    member(ctx)  # found by every filter below
    return {
        "query": {
            "org": str(ctx["tree"]["town"].pk),
            "exact_org": "false",
            "category": "full",
            "standing": "normal",
            "status": "active",
            "sex": "1",
            "age_min": "18",
            "age_max": "90",
            "education": "21",
            "ethnicity": "han",
            "years_min": "1",
            "years_max": "60",
            "joined_from": "2000-01-01",
            "joined_to": "2010-12-31",
            "job_category": "05",
            "mobile": "false",
            "out_of_contact": "false",
            "q": "zs",
            "sort": "-joined_on",
            "page": 1,
            "page_size": 10,
        }
    }


MEMBER_CALLS = {
    ("get", f"{M}/me"): _me,
    ("patch", f"{M}/me/contact"): _my_contact,
    ("get", M): _list,
    ("post", M): lambda ctx: {
        "body": {
            "organization_id": ctx["tree"]["branch_a"].pk,
            "name": "王芳",
            "id_number": new_id_number(ctx, "1990-03-04", 2),
            "sex": "2",
            "ethnicity": "汉族",
            "birth_date": "1990-03-04",
            "education": "本科",
            "degree": "学士",
            "school": "浙江大学 法学",
            "native_place": "浙江杭州",
            "work_started_on": "2012-07-01",
            "job_category": "04",
            "work_unit": "县人民医院 医生",
            "title": "主治医师",
            "party_post": "",
            "phone": "13700001111",
            "telephone": "0571-12345678",
            "home_address": "东街3号",
            "note": "",
            "category": "full",
            "joined_on": "2015-06-30",
            "full_on": "2016-07-01",
        }
    },
    ("get", f"{M}/{{member_id}}"): lambda ctx: {"path": _one(ctx)},
    ("patch", f"{M}/{{member_id}}"): lambda ctx: {
        "path": _one(ctx),
        "body": {"work_unit": "县供电公司 主任", "education": "14", "telephone": "0571-1"},
    },
    ("post", f"{M}/{{member_id}}/reveal"): lambda ctx: {"path": _one(ctx)},
    ("get", f"{M}/{{member_id}}/events"): lambda ctx: {"path": _one(ctx)},
    ("post", f"{M}/{{member_id}}/events"): lambda ctx: {
        "path": _one(ctx),
        "body": {
            "kind": "lost_contact",
            "on": "2020-03-01",
            "detail": "电话停机",
            "reference": "1",
        },
    },
    ("get", f"{M}/{{member_id}}/state"): lambda ctx: {
        "path": _one(ctx),
        "query": {"on": "2005-12-31"},
    },
}
for _kind in ROWS:
    MEMBER_CALLS |= {
        ("get", f"{M}/{{member_id}}/{_kind}"): lambda ctx, k=_kind: {
            "path": {"member_id": related_row(ctx, k)[0].pk}
        },
        ("post", f"{M}/{{member_id}}/{_kind}"): lambda ctx, k=_kind: {
            "path": _one(ctx),
            "body": ROWS[k],
        },
        ("patch", f"{M}/{{member_id}}/{_kind}/{{row_id}}"): lambda ctx, k=_kind: {
            "path": _row_path(ctx, k),
            "body": PATCHES[k],
        },
        ("delete", f"{M}/{{member_id}}/{_kind}/{{row_id}}"): lambda ctx, k=_kind: {
            "path": _row_path(ctx, k)
        },
    }
