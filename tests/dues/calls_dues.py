"""Rows of the OpenAPI guard (tests/core/test_openapi.py) for /api/v1/dues.

Same shape as CALLS there: (method, path) -> function(ctx) giving {"path", "query", "body"}; each
call must succeed for oscar (org admin of the town committee). Earlier rows of the guard change
the tree and add members to branches A and B, so each row here works on a branch of its own
under the town committee, with members, bases and ledgers recorded through the services as the
system administrator.
"""

import datetime
import itertools

from django.utils import timezone

from dangjian.core import services as core_services
from dangjian.dues import services as dues_services
from dangjian.members import services as member_services
from tests.members.calls_members import new_id_number

API = "/api/v1"
D = f"{API}/dues"


def _today() -> datetime.date:
    return timezone.localdate()


def branch(ctx, name="党费测试党支部"):
    """A new branch under the town committee."""
    seq = ctx.setdefault("_dues_branch_seq", itertools.count(1))
    return core_services.create_organization(
        actor=ctx["admin"],
        parent=ctx["tree"]["town"],
        code=f"D{next(seq):02d}",
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


def years() -> list[int]:
    """This year and the one before: six months back from January reach into last year."""
    this = _today().year
    return [this - 1, this]


def ledger(ctx, members=2):
    """A branch whose members (in service, base 4,000: 40.00 a month) owe every month of this
    year and last; nothing paid yet. Returns (branch, members)."""
    org = branch(ctx)
    people = [full_member(ctx, org, f"党员{i}") for i in range(members)]
    for year in years():
        for person in people:
            dues_services.declare_base(
                actor=ctx["admin"], member=person, year=year, category="in_service", base="4000"
            )
        dues_services.generate_now(actor=ctx["admin"], org=org, year=year)
    return org, people


def this_month() -> dict:
    today = _today()
    return {"year": today.year, "month": today.month}


def payment(ctx):
    _org, (person, *_rest) = ledger(ctx, members=1)
    return dues_services.record_payment(
        actor=ctx["admin"],
        member=person,
        months=[(_today().year, _today().month)],
        paid_on=_today(),
        method="cash",
    )


def relief(ctx):
    _org, (person, *_rest) = ledger(ctx, members=1)
    return dues_services.request_relief(
        actor=ctx["admin"],
        member=person,
        year=_today().year,
        from_month=1,
        to_month=12,
        kind="exempt",
        reason="重病住院，生活困难",
        branch_decided_on=_today(),
        branch_reference="支委会记录2026-05",
    )


def _bases(ctx):
    org, _people = ledger(ctx)
    return {"query": {"org": org.pk, "year": _today().year, "page": 1, "page_size": 10}}


def _declare(ctx):
    person = full_member(ctx, branch(ctx))
    return {
        "path": {"member_id": person.pk, "year": _today().year},
        "body": {
            "category": "in_service",
            "base": "5200.00",
            "override": "60.00",
            "override_reason": "本人自愿多交",
        },
    }


def _bulk(ctx):
    org = branch(ctx)
    a, b, c = (full_member(ctx, org, n) for n in ("甲", "乙", "丙"))
    return {
        "body": {
            "org": org.pk,
            "year": _today().year,
            "rows": [
                {"member": a.pk, "category": "in_service", "base": "3000"},
                {"member": b.pk, "category": "retired", "base": 5200},
                {
                    "member": c.pk,
                    "category": "student",
                    "override": "0.50",
                    "override_reason": "自愿",
                },
            ],
        }
    }


def _generate(ctx):
    org = branch(ctx)
    full_member(ctx, org)
    return {"body": {"org": org.pk, "year": _today().year}}


def _job(ctx):
    org = branch(ctx)
    job = dues_services.start_generation(actor=ctx["people"]["oscar"], org=org, year=_today().year)
    return {"path": {"job_id": str(job.pk)}}


def _lines(ctx):
    org, people = ledger(ctx)
    query = {
        "org": org.pk,
        "year": _today().year,
        "month": _today().month,
        "status": "unpaid",
        "member": people[0].pk,
    }
    return {"query": query | {"page": 1, "page_size": 20}}


def _member_ledger(ctx):
    _org, people = ledger(ctx, members=1)
    return {"path": {"member_id": people[0].pk}, "query": {"year": _today().year}}


def _pay(ctx):
    _org, people = ledger(ctx, members=1)
    return {
        "body": {
            "member": people[0].pk,
            "months": [this_month()],
            "paid_on": _today().isoformat(),
            "method": "online",
            "amount": "40.00",
            "reference": f"WX{people[0].pk:08d}",
            "approval": "",
            "proxy_name": "",
            "confirm_late": False,
            "note": "微信支付",
        }
    }


def _pay_month(ctx):
    org, people = ledger(ctx, members=3)
    return {
        "body": {
            "org": org.pk,
            **this_month(),
            "members": [p.pk for p in people],
            "paid_on": _today().isoformat(),
            "method": "cash",
        }
    }


def _voluntary(ctx):
    _org, people = ledger(ctx, members=1)
    return {
        "body": {
            "member": people[0].pk,
            "amount": "1000.00",
            "paid_on": _today().isoformat(),
            "method": "bank",
            "reference": f"YH{people[0].pk:08d}",
            "note": "自愿交纳",
        }
    }


def _payments(ctx):
    made = payment(ctx)
    query = {
        "org": made.organization_id,
        "year": _today().year,
        "kind": "dues",
        "member": made.member_id,
        "reversed": False,
    }
    return {"query": query | {"page": 1}}


def _relief_in(ctx):
    _org, people = ledger(ctx, members=1)
    return {
        "body": {
            "member": people[0].pk,
            "year": _today().year,
            "from_month": 1,
            "to_month": 6,
            "kind": "reduce",
            "amount": "5.00",
            "reason": "下岗失业，收入微薄",
            "branch_decided_on": _today().isoformat(),
            "branch_reference": "支部大会记录",
        }
    }


def _reliefs(ctx):
    made = relief(ctx)
    query = {"org": made.organization_id, "year": made.year, "state": "pending", "to_sign": True}
    return {"query": query | {"page": 1}}


def _arrears(ctx):
    org, _people = ledger(ctx)
    return {"query": {"org": org.pk, "page": 1}}


def _decisions(ctx):
    org, people = ledger(ctx, members=1)
    dues_services.decide_arrears(
        actor=ctx["admin"], member=people[0], outcome="good_reason", meeting_on=_today()
    )
    return {"query": {"org": org.pk, "page": 1}}


def _decide(ctx):
    _org, people = ledger(ctx, members=1)
    return {
        "path": {"member_id": people[0].pk},
        "body": {
            "outcome": "warned",
            "meeting_on": _today().isoformat(),
            "reference": "支部大会记录",
            "note": "谈话提醒，限期补交",
        },
    }


def _remind(ctx):
    org, _people = ledger(ctx)
    return {"body": {"org": org.pk, **this_month()}}


def _collection(ctx):
    payment(ctx)
    return {"query": {"org": ctx["tree"]["town"].pk, "year": _today().year}}


def _remittance(ctx):
    payment(ctx)
    return {"query": {"org": ctx["tree"]["town"].pk, **this_month()}}


DUES_CALLS = {
    ("get", f"{D}/rules/monthly"): lambda ctx: {
        "query": {"category": "in_service", "base": "3000.01", "on": _today().isoformat()}
    },
    ("get", f"{D}/bases"): _bases,
    ("put", f"{D}/bases/{{member_id}}/{{year}}"): _declare,
    ("post", f"{D}/bases/bulk"): _bulk,
    ("post", f"{D}/ledgers/generate"): _generate,
    ("get", f"{D}/jobs/{{job_id}}"): _job,
    ("get", f"{D}/ledgers"): _lines,
    ("get", f"{D}/members/{{member_id}}/ledger"): _member_ledger,
    ("post", f"{D}/payments"): _pay,
    ("post", f"{D}/payments/month"): _pay_month,
    ("post", f"{D}/payments/voluntary"): _voluntary,
    ("get", f"{D}/payments"): _payments,
    ("get", f"{D}/payments/{{payment_id}}"): lambda ctx: {"path": {"payment_id": payment(ctx).pk}},
    ("post", f"{D}/payments/{{payment_id}}/reverse"): lambda ctx: {
        "path": {"payment_id": payment(ctx).pk},
        "body": {"reason": "重复录入"},
    },
    ("post", f"{D}/reliefs"): _relief_in,
    ("get", f"{D}/reliefs"): _reliefs,
    ("post", f"{D}/reliefs/{{relief_id}}/sign"): lambda ctx: {
        "path": {"relief_id": relief(ctx).pk},
        "body": {"approve": True, "note": "同意免交"},
    },
    ("get", f"{D}/arrears"): _arrears,
    ("get", f"{D}/arrears/decisions"): _decisions,
    ("post", f"{D}/arrears/{{member_id}}/decision"): _decide,
    ("post", f"{D}/reminders"): _remind,
    ("get", f"{D}/reports/collection"): _collection,
    ("get", f"{D}/reports/remittance"): _remittance,
    ("get", f"{D}/mine"): lambda ctx: {"query": {"year": _today().year}},
}
