"""Demo requests from the public for `dangjian seed` (make run): desks at the township and the
two demo branches, keyword rules, and requests in every state — new, in progress, answered and
rated (some shown on the public page), one overdue and escalated to the township.

Everything goes through the services, as the public desk and the demo accounts would; only the
dates are moved back afterwards so the figures have months to show.
"""

import datetime
import random

from django.db import transaction
from django.utils import timezone

from dangjian.core.models import Organization

from . import services
from .models import PublicRequest

TEXTS = [
    ("help", "东街3号楼前的路灯坏了一个多星期，晚上老人出门很不安全，请尽快修理。", "13800010001"),
    ("complaint", "西街菜市场门口每天早上乱停车，把人行道都堵死了。", "13800010002"),
    ("suggestion", "建议在社区广场增设几张长椅，方便老人休息。", ""),
    ("help", "独居老人李奶奶家的水管漏水，她不会联系物业，能否帮忙？", "13800010003"),
    ("opinion", "小区垃圾分类点的清运时间太晚，夏天气味很大。", ""),
    ("praise", "感谢社区党员志愿者上周帮我们清理了楼道杂物！", "13800010004"),
    ("help", "东街小学门口的减速带被压坏了，孩子上学时车速很快。", "13800010005"),
    ("complaint", "西街夜市烧烤油烟太大，影响附近居民开窗。", "13800010006"),
    ("suggestion", "希望社区能办一次防电信诈骗的讲座。", ""),
    ("other", "想了解社区党群服务中心周末的开放时间。", "13800010007"),
    ("help", "东街公厕的照明灯不亮了。", "13800010008"),
    ("opinion", "西街停车位太少，建议利用空地规划临时车位。", ""),
]


def seed_feedback(users: dict, a_id: int, b_id: int, today: datetime.date, *, seed: int) -> dict:
    rng = random.Random(seed + 7)
    branch_a = Organization.objects.get(pk=a_id)
    branch_b = Organization.objects.get(pk=b_id)
    town = Organization.objects.get(path=branch_a.parent_path)
    admin = users.get("county") or users.get("admin")
    sec_a, sec_b = users.get("secretary_a"), users.get("secretary_b")
    if not (admin and sec_a and sec_b):
        return {}
    with transaction.atomic():
        desk_town = services.save_desk(
            actor=admin, organization=town, code="town", place=town.name, intro=""
        )
        services.save_desk(actor=admin, organization=branch_a, code="branch-a", place=branch_a.name)
        services.save_desk(actor=admin, organization=branch_b, code="branch-b", place=branch_b.name)
        services.save_routing_rule(
            actor=admin, organization=branch_a, keywords="东街 路灯 照明 公厕"
        )
        services.save_routing_rule(
            actor=admin, organization=branch_b, keywords="西街 菜市场 夜市 停车"
        )
        made = []
        for i, (category, text, phone) in enumerate(TEXTS):
            req, _code = services.submit(
                category=category,
                text=text,
                desk=desk_town,
                name=rng.choice(["王", "李", "张", "刘", "陈"]) + rng.choice(["女士", "先生"])
                if phone
                else "",
                phone=phone,
                # No consent: seeding a platform whose SMS gateway is set up must not text
                # these made-up numbers.
                consent_contact=False,
                allow_public=i % 3 != 2,
            )
            made.append(req)
        now = timezone.now()
        # Spread over the last three months, oldest first, deadlines moved with them.
        for i, req in enumerate(made):
            back = datetime.timedelta(days=int(90 * (len(made) - i) / len(made)), hours=i)
            PublicRequest.objects.filter(pk=req.pk).update(
                submitted_at=req.submitted_at - back,
                ack_due_at=req.ack_due_at - back,
                answer_due_at=req.answer_due_at - back,
            )
        handled = 0
        for i, req in enumerate(made):
            req = PublicRequest.objects.get(pk=req.pk)
            actor = sec_a if req.organization_id == a_id else sec_b
            if req.organization_id not in (a_id, b_id):
                actor = users.get("town") or admin
            if i >= len(made) - 3:
                continue  # the newest stay new
            if i == len(made) - 4:
                services.accept(actor=actor, req=req)  # accepted, now overdue: escalated below
                continue
            services.accept(actor=actor, req=req)
            req = services.answer(
                actor=actor, req=req, reply="已收到，经现场核实已安排处理，感谢您的反映。"
            )
            # Answered a few days after submitting.
            PublicRequest.objects.filter(pk=req.pk).update(
                acknowledged_at=req.submitted_at + datetime.timedelta(hours=rng.randint(2, 30)),
                answered_at=min(
                    now, req.submitted_at + datetime.timedelta(days=rng.randint(1, 12))
                ),
            )
            if i % 2 == 0:
                req = services.rate(req=req, rating=rng.choice([3, 4, 5, 5, 5]), comment="")
                if req.allow_public and i % 4 == 0:
                    services.feature(actor=actor, req=req, shown=True)
            handled += 1
        escalated = len(services.claim_overdue(now))
    return {"requests": len(made), "answered": handled, "escalated": escalated}
