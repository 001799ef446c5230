"""Rows of the OpenAPI guard (tests/core/test_openapi.py) for /api/v1/meetings.

Same shape as CALLS there: (method, path) -> function(ctx) giving {"path", "query", "body"}; each
call must succeed for oscar (org admin of the town committee). Earlier rows of the guard change
the tree, so these rows work on a branch of their own under the town committee. For the members'
operations oscar's member record is there (as a secretary's often is), so he is expected
at its meetings. Everything is set up through the services as the system administrator.
"""

import datetime

from django.utils import timezone

from dangjian.core import services as core_services
from dangjian.meetings import services
from dangjian.meetings.models import ActivityType
from dangjian.members import services as member_services
from dangjian.members.models import Member
from tests.members.calls_members import new_id_number

API = "/api/v1"
M = f"{API}/meetings"


def branch(ctx):
    """A branch of the town committee with two full members, one of them oscar's record."""
    if "meetings_branch" not in ctx:
        org = core_services.create_organization(
            actor=ctx["admin"],
            parent=ctx["tree"]["town"],
            code="MT01",
            name="组织生活测试党支部",
            kind="branch",
        )
        people = {}
        for key, name in (("oscar", "欧阳明"), ("peer", "张三")):
            data = {
                "name": name,
                "id_number": new_id_number(ctx),
                "joined_on": datetime.date(2005, 7, 1),
                "full_on": datetime.date(2006, 7, 1),
                "category": "full",
            }
            people[key] = member_services.create_member(
                actor=ctx["admin"], organization=org, data=data
            )
        # Rows of other apps may have given oscar a record elsewhere: this one is his now.
        Member.objects.filter(user=ctx["people"]["oscar"]).update(user=None)
        people["oscar"].user = ctx["people"]["oscar"]
        people["oscar"].save(update_fields=["user"])
        ctx["meetings_branch"], ctx["meetings_people"] = org, people
    return ctx["meetings_branch"]


def meeting(ctx, code="general_meeting", start_hours=-0.5, **values):
    """A meeting of the branch starting `start_hours` from now, for two hours."""
    org = branch(ctx)
    starts = timezone.now().replace(microsecond=0) + datetime.timedelta(hours=start_hours)
    values.setdefault("topic", "讨论发展党员")
    return services.schedule(
        actor=ctx["admin"],
        organization=org,
        activity_type=ActivityType.objects.get(code=code),
        starts_at=starts,
        ends_at=starts + datetime.timedelta(hours=2),
        **values,
    )


def later(ctx, code="theme_day"):
    return meeting(ctx, code, start_hours=48, topic="主题党日")


def attendee(ctx, m, key="oscar"):
    return m.attendees.get(member=ctx["meetings_people"][key])


def leave_asked(ctx):
    m = later(ctx)
    services.ask_leave(user=ctx["people"]["oscar"], meeting=m, reason="出差")
    return {"path": {"meeting_id": m.pk, "attendee_id": attendee(ctx, m).pk}}


def with_voters_present(ctx):
    m = meeting(ctx)
    services.set_attendance(
        actor=ctx["admin"], meeting=m, states={a.pk: "present" for a in m.attendees.all()}
    )
    return m


def _mid(m):
    return {"meeting_id": m.pk}


def _schedule(ctx):
    starts = timezone.localtime() + datetime.timedelta(days=3)
    return {
        "body": {
            "org": branch(ctx).pk,
            "type": "lecture",
            "topic": "学习新党章",
            "agenda": "一、学习\n二、讨论",
            "starts_at": starts.replace(hour=9, minute=0, second=0, microsecond=0).isoformat(),
            "ends_at": starts.replace(hour=11, minute=0, second=0, microsecond=0).isoformat(),
            "place": "党员活动室",
            "online_link": "https://meeting.example.cn/123",
            "host": "王书记",
            "recorder": ctx["people"]["oscar"].pk,
            "lecturer": "王书记",
            "lecture_title": "学习新党章",
            "class_hours": 2.5,
        }
    }


def _list(ctx):
    meeting(ctx)
    today = timezone.localdate()
    return {
        "query": {
            "org": branch(ctx).pk,
            "type": "general_meeting",
            "status": "planned",
            "since": (today - datetime.timedelta(days=1)).isoformat(),
            "until": (today + datetime.timedelta(days=1)).isoformat(),
            "q": "发展",
            "page": 1,
            "page_size": 10,
        }
    }


def _year(ctx):
    return {"org": ctx["tree"]["town"].pk, "year": timezone.localdate().year}


def _appraisal(ctx):
    return meeting(ctx, "appraisal", topic="民主评议党员")


MEETING_CALLS = {
    ("get", f"{M}/types"): lambda ctx: {},
    ("get", f"{M}/compliance"): lambda ctx: {
        "query": {"org": branch(ctx).pk, "year": timezone.localdate().year}
    },
    ("get", f"{M}/heatmap"): lambda ctx: {
        "query": _year(ctx) | {"only_overdue": False, "page": 1, "page_size": 20}
    },
    ("post", f"{M}/plan"): lambda ctx: {
        "body": {"org": branch(ctx).pk, "year": timezone.localdate().year + 1, "day": 10, "hour": 9}
    },
    ("get", f"{M}/mine"): lambda ctx: (
        meeting(ctx),
        {"query": {"year": timezone.localdate().year}},
    )[1],
    ("get", f"{M}/mine/{{meeting_id}}"): lambda ctx: {"path": _mid(_appraisal(ctx))},
    ("get", M): _list,
    ("post", M): _schedule,
    ("get", f"{M}/{{meeting_id}}"): lambda ctx: {"path": _mid(with_voters_present(ctx))},
    ("patch", f"{M}/{{meeting_id}}"): lambda ctx: {
        "path": _mid(later(ctx)),
        "body": {"topic": "主题党日：重温入党誓词", "place": None, "recorder": None},
    },
    ("post", f"{M}/{{meeting_id}}/cancel"): lambda ctx: {
        "path": _mid(later(ctx)),
        "body": {"reason": "改期"},
    },
    ("post", f"{M}/{{meeting_id}}/notice"): lambda ctx: {"path": _mid(later(ctx))},
    ("post", f"{M}/{{meeting_id}}/held"): lambda ctx: {"path": _mid(meeting(ctx))},
    ("post", f"{M}/{{meeting_id}}/attendance"): lambda ctx: (
        m := meeting(ctx),
        {"path": _mid(m), "body": {str(attendee(ctx, m, "peer").pk): "present"}},
    )[1],
    ("post", f"{M}/{{meeting_id}}/leave/{{attendee_id}}"): lambda ctx: (
        leave_asked(ctx) | {"body": {"decision": "approve"}}
    ),
    ("put", f"{M}/{{meeting_id}}/minutes"): lambda ctx: {
        "path": _mid(meeting(ctx)),
        "body": {"minutes": "<p>会议<strong>一致同意</strong>。</p>"},
    },
    ("post", f"{M}/{{meeting_id}}/resolutions"): lambda ctx: {
        "path": _mid(with_voters_present(ctx)),
        "body": {
            "title": "接收张三为预备党员",
            "yes": 2,
            "no": 0,
            "abstain": 0,
            "written": 0,
            "secret_ballot": False,
        },
    },
    ("get", f"{M}/{{meeting_id}}/signin-code"): lambda ctx: {"path": _mid(meeting(ctx))},
    ("post", f"{M}/{{meeting_id}}/sign-in"): lambda ctx: (
        m := meeting(ctx),
        {"path": _mid(m), "body": {"code": services.current_code(m)}},
    )[1],
    ("post", f"{M}/{{meeting_id}}/leave"): lambda ctx: {
        "path": _mid(later(ctx)),
        "body": {"reason": "出差"},
    },
    ("post", f"{M}/{{meeting_id}}/self-assessment"): lambda ctx: {
        "path": _mid(_appraisal(ctx)),
        "body": {"text": "认真履行党员义务。"},
    },
    ("post", f"{M}/{{meeting_id}}/peer-ratings"): lambda ctx: {
        "path": _mid(_appraisal(ctx)),
        "body": {"member": ctx["meetings_people"]["peer"].pk, "grade": "excellent"},
    },
}
