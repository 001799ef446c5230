"""Rows of the OpenAPI guard (tests/core/test_openapi.py) for /api/v1/feedback and /api/v1/public.

Same shape as CALLS there: (method, path) -> function(ctx) giving {"path", "query", "body"}; each
call must succeed for oscar (org admin of the town committee, above branches A and B; the public
operations ignore his token). Each row submits what it needs through the services.
"""

from dangjian.core import captcha
from dangjian.feedback import services
from tests.captchas import answer_for

API = "/api/v1"
F = f"{API}/feedback"
P = f"{API}/public"
TEXT = "东街小区的路灯坏了好几天，晚上出行很不方便。"


def desk(ctx):
    """Branch A's desk, opened once per test."""
    if "desk" not in ctx:
        ctx["desk"] = services.save_desk(
            actor=ctx["admin"], organization=ctx["tree"]["branch_a"], code="dongjie", place="东街"
        )
    return ctx["desk"]


def submitted(ctx, **values):
    """A request at branch A's desk: (request, check code)."""
    values.setdefault("category", "help")
    values.setdefault("text", TEXT)
    return services.submit(desk=desk(ctx), ip=None, **values)


def received(ctx, **values):
    return submitted(ctx, **values)[0]


def answered(ctx, **values):
    req, code = submitted(ctx, **values)
    return services.answer(actor=ctx["admin"], req=req, reply="已修复。"), code


def rule(ctx):
    return services.save_routing_rule(
        actor=ctx["admin"], organization=ctx["tree"]["group_a"], keywords="路灯"
    )


def _rid(req):
    return {"request_id": req.pk}


def _list(ctx):
    received(ctx)
    query = {"view": "open", "org": ctx["tree"]["town"].pk, "category": "help", "q": "路灯"}
    return {"query": query | {"status": "received", "exact": False, "page": 1, "page_size": 10}}


def _submit(ctx):
    token = captcha.new_challenge()
    return {
        "body": {
            "category": "help",
            "desk": desk(ctx).code,
            "text": TEXT,
            "name": "王大妈",
            "phone": "13812345678",
            "email": "wang@example.cn",
            "consent_contact": True,
            "allow_public": True,
            "captcha_token": token,
            "captcha_answer": answer_for(token),
        }
    }


def _lookup(ctx, req, code, **extra):
    return {"body": {"number": req.number, "check_code": code} | extra}


FEEDBACK_CALLS = {
    ("get", f"{F}/requests"): _list,
    ("get", f"{F}/forward-targets"): lambda ctx: {"query": {"q": "西街"}},
    ("get", f"{F}/requests/{{request_id}}"): lambda ctx: {"path": _rid(received(ctx))},
    ("post", f"{F}/requests/{{request_id}}/accept"): lambda ctx: {"path": _rid(received(ctx))},
    ("post", f"{F}/requests/{{request_id}}/start"): lambda ctx: {"path": _rid(received(ctx))},
    ("post", f"{F}/requests/{{request_id}}/assign"): lambda ctx: {
        "path": _rid(received(ctx)),
        "body": {"assignee_id": ctx["people"]["alice"].pk},
    },
    ("get", f"{F}/requests/{{request_id}}/handlers"): lambda ctx: {"path": _rid(received(ctx))},
    ("post", f"{F}/requests/{{request_id}}/note"): lambda ctx: {
        "path": _rid(received(ctx)),
        "body": {"text": "已电话联系"},
    },
    ("post", f"{F}/requests/{{request_id}}/forward"): lambda ctx: {
        "path": _rid(received(ctx)),
        "body": {"to_org_id": ctx["tree"]["branch_b"].pk, "reason": "属西街管辖"},
    },
    ("post", f"{F}/requests/{{request_id}}/merge"): lambda ctx: {
        "path": _rid(received(ctx, text="路灯又坏了，跟上次一样")),
        "body": {"into_id": received(ctx).pk, "note": "同一盏灯"},
    },
    ("post", f"{F}/requests/{{request_id}}/answer"): lambda ctx: {
        "path": _rid(received(ctx)),
        "body": {"reply": "已联系供电所，今天下午修复。", "signed": "东街社区"},
    },
    ("post", f"{F}/requests/{{request_id}}/close"): lambda ctx: {"path": _rid(answered(ctx)[0])},
    ("post", f"{F}/requests/{{request_id}}/reject"): lambda ctx: {
        "path": _rid(received(ctx)),
        "body": {"reason": "不属于受理范围"},
    },
    ("post", f"{F}/requests/{{request_id}}/feature"): lambda ctx: {
        "path": _rid(answered(ctx, allow_public=True)[0]),
        "body": {"shown": True},
    },
    ("post", f"{F}/requests/{{request_id}}/reveal"): lambda ctx: {
        "path": _rid(received(ctx, name="王大妈", phone="13812345678"))
    },
    ("get", f"{F}/figures"): lambda ctx: (
        answered(ctx),
        {"query": {"org": ctx["tree"]["town"].pk, "since": "2020-01-01", "until": "2099-12-31"}},
    )[1],
    ("get", f"{F}/rules"): lambda ctx: (
        rule(ctx),
        {"query": {"org": ctx["tree"]["town"].pk, "page": 1}},
    )[1],
    ("post", f"{F}/rules"): lambda ctx: {
        "body": {
            "organization_id": ctx["tree"]["branch_b"].pk,
            "keywords": "西街 垃圾",
            "category": "complaint",
            "weight": 2,
            "active": True,
            "note": "西街的环境卫生",
        }
    },
    ("delete", f"{F}/rules/{{rule_id}}"): lambda ctx: {"path": {"rule_id": rule(ctx).pk}},
    ("get", f"{F}/desks"): lambda ctx: (desk(ctx), {"query": {"page": 1}})[1],
    ("post", f"{F}/desks"): lambda ctx: {
        "body": {
            "organization_id": ctx["tree"]["branch_b"].pk,
            "code": "xijie",
            "place": "西街社区服务站",
            "intro": "周一至周五 9:00-17:00",
            "active": True,
        }
    },
    ("get", f"{P}/desks"): lambda ctx: (desk(ctx), {"query": {"q": "东街", "page": 1}})[1],
    ("get", f"{P}/captcha"): lambda ctx: {},
    ("post", f"{P}/requests"): _submit,
    ("post", f"{P}/requests/status"): lambda ctx: _lookup(ctx, *answered(ctx)),
    ("post", f"{P}/requests/rate"): lambda ctx: _lookup(
        ctx, *answered(ctx), rating=5, comment="很快", reopen=False
    ),
    ("post", f"{P}/requests/add"): lambda ctx: _lookup(ctx, *submitted(ctx), text="灯杆编号 0231"),
}
