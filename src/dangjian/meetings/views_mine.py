"""A member's own organisational life, on the phone: my meetings and class hours, one meeting
with leave and the appraisal forms, and the sign-in page the QR code on the recorder's screen
opens. No role is needed: a member sees only the meetings they are expected at (404 otherwise)."""

import time

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from dangjian.core.errors import NotFound, ServiceError, ValidationFailed
from dangjian.core.models import OrgStatus, RoleAssignment
from dangjian.members.models import Member

from . import rules, selectors, services
from .models import (
    Assessment,
    Attendee,
    AttendeeState,
    Grade,
    LeaveState,
    Meeting,
    MeetingStatus,
)

# Who must study 56 class hours a year instead of 32 (DOMAIN §6).
OFFICER_ROLES = ("secretary", "committee_member")
UPCOMING_SHOWN = 6  # the rest behind "more", up to UPCOMING_MAX
UPCOMING_MAX = 100
PAST_PAGE = 20
DETAIL = "meetings/mine/detail.html"
SIGN_IN = "meetings/mine/sign_in.html"


class LeaveForm(forms.Form):
    reason = forms.CharField(label=_lazy("Reason"), max_length=200)


class SelfAssessmentForm(forms.Form):
    text = forms.CharField(label=_lazy("My self-assessment"), max_length=2000)


FORM_FIELDS = {"leave_reason": "reason", "text": "text"}


def _form_error(form: forms.Form, exc: ServiceError) -> None:
    field = FORM_FIELDS.get(exc.field or "")
    form.add_error(field if field in form.fields else None, str(exc.message))


def _mine(user, pk) -> Attendee:
    """The user's place at a meeting they are expected at, with the meeting; 404 for any other."""
    try:
        meeting = selectors.my_meeting(user, pk)
        attendee = services.attendee_of(user, meeting)
    except NotFound:
        raise Http404 from None
    attendee.meeting = meeting  # with its organisation and type
    return attendee


def _is_officer(user) -> bool:
    return RoleAssignment.objects.filter(
        user=user, role__in=OFFICER_ROLES, organization__status=OrgStatus.ACTIVE
    ).exists()


def _label(attendee: Attendee, now) -> Attendee:
    meeting = attendee.meeting
    attendee.type_label = services.type_name(meeting.activity_type)
    attendee.under_way = (
        meeting.status != MeetingStatus.CANCELLED and meeting.starts_at <= now <= meeting.ends_at
    )
    return attendee


# My meetings -------------------------------------------------------------------------------------


@login_required
def mine(request):
    """What is coming (with the leave asked), what was (with my attendance) and my class hours
    this year against the yearly requirement."""
    user = request.user
    now = timezone.now()
    year = timezone.localdate().year
    upcoming = [_label(a, now) for a in selectors.my_upcoming(user, now)[:UPCOMING_MAX]]
    past_qs = selectors.my_attendance(user).exclude(
        meeting__status=MeetingStatus.PLANNED, meeting__ends_at__gte=now
    )
    past = Paginator(past_qs, PAST_PAGE).get_page(request.GET.get("page"))
    for attendee in past:
        _label(attendee, now)
    hours = selectors.my_class_hours(user, year)
    officer = _is_officer(user)
    required = rules.YEARLY_HOURS_OFFICER if officer else rules.YEARLY_HOURS_MEMBER
    has_record = bool(upcoming or past.paginator.count) or Member.objects.filter(user=user).exists()
    return render(
        request,
        "meetings/mine/list.html",
        {
            "upcoming": upcoming[:UPCOMING_SHOWN],
            "upcoming_more": upcoming[UPCOMING_SHOWN:],
            "past": past,
            "year": year,
            "hours": hours,
            "required": required,
            "officer": officer,
            "missing": max(0.0, required - hours),
            "percent": min(100, round(hours * 100 / required)),
            "has_record": has_record,
        },
    )


# One meeting -------------------------------------------------------------------------------------


def _detail_context(
    attendee: Attendee,
    *,
    leave_form=None,
    self_form=None,
    rating_error=None,
    posted_grades=None,
) -> dict:
    meeting = attendee.meeting
    now = timezone.now()
    opens, closes = services.signin_window(meeting)
    planned = meeting.status == MeetingStatus.PLANNED
    leave_open = (
        planned
        and meeting.starts_at > now
        and attendee.leave_state in (LeaveState.NONE, LeaveState.ASKED)
    )
    context = {
        "meeting": meeting,
        "me": _label(attendee, now),
        "future": meeting.starts_at > now,
        "leave_open": leave_open,
        "leave_form": leave_form
        or LeaveForm(initial={"reason": attendee.leave_reason} if attendee.leave_state else None),
        "sign_in_open": meeting.status != MeetingStatus.CANCELLED
        and attendee.state != AttendeeState.PRESENT
        and opens <= now.timestamp() <= closes,
        "appraisal": meeting.activity_type.appraisal and meeting.status != MeetingStatus.CANCELLED,
    }
    if context["appraisal"] and not attendee.guest:
        given = dict(
            Assessment.objects.filter(meeting=meeting, rater=attendee.member).values_list(
                "member_id", "grade"
            )
        )
        given |= posted_grades or {}
        own = Assessment.objects.filter(
            meeting=meeting, member=attendee.member, rater__isnull=True
        ).first()
        # Only the members, and what I gave each: never what the others gave.
        peers = [
            {"member": row["member"], "grade": given.get(row["member"].pk, "")}
            for row in selectors.appraisal_tally(meeting)
            if row["member"].pk != attendee.member_id
        ]
        context |= {
            "self_form": self_form or SelfAssessmentForm(initial={"text": own.text if own else ""}),
            "self_done": own is not None,
            "peers": peers,
            "rated": sum(1 for p in peers if p["grade"]),
            "grades": Grade.choices,
            "rating_error": rating_error,
        }
    return context


@login_required
def mine_detail(request, pk):
    attendee = _mine(request.user, pk)
    return render(request, DETAIL, _detail_context(attendee))


def _back(meeting, anchor: str = ""):
    return redirect(reverse("meetings:mine_detail", args=[meeting.pk]) + anchor)


@login_required
@require_POST
def mine_leave(request, pk):
    """Ask for leave (before the start only: afterwards the service refuses with why)."""
    attendee = _mine(request.user, pk)
    form = LeaveForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            services.ask_leave(
                user=request.user, meeting=attendee.meeting, reason=form.cleaned_data["reason"]
            )
        except NotFound:
            raise Http404 from None
        except ServiceError as exc:
            _form_error(form, exc)
            status = exc.status
        else:
            messages.success(request, _("Your request for leave was sent to the branch."))
            return _back(attendee.meeting)
    return render(request, DETAIL, _detail_context(attendee, leave_form=form), status=status)


@login_required
@require_POST
def mine_self_assess(request, pk):
    attendee = _mine(request.user, pk)
    form = SelfAssessmentForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            services.self_assess(
                user=request.user, meeting=attendee.meeting, text=form.cleaned_data["text"]
            )
        except NotFound:
            raise Http404 from None
        except ServiceError as exc:
            _form_error(form, exc)
            status = exc.status
        else:
            messages.success(request, _("Your self-assessment is saved."))
            return _back(attendee.meeting, "#appraisal")
    return render(request, DETAIL, _detail_context(attendee, self_form=form), status=status)


def _posted_grades(post) -> dict[int, str]:
    """grade-<member id> fields with a value (an empty one leaves the rating as it was)."""
    found = {}
    for key, value in list(post.items())[:1000]:
        if not key.startswith("grade-") or not value:
            continue
        try:
            member_id = int(key.removeprefix("grade-"))
        except ValueError:
            continue
        if 0 < member_id < 2**63:
            found[member_id] = value
    return found


@login_required
@require_POST
def mine_rate(request, pk):
    """Grade the other members of the organisation: all the grades sent are saved, or none."""
    attendee = _mine(request.user, pk)
    meeting = attendee.meeting
    wanted = _posted_grades(request.POST)
    try:
        if not wanted:
            raise ValidationFailed(_("Choose a grade."), code="invalid_grade", field="grade")
        with transaction.atomic():
            members = Member.objects.in_bulk(list(wanted))
            for member_id, grade in wanted.items():
                if member_id not in members:
                    raise ValidationFailed(
                        _("Only members of the organisation are appraised."),
                        code="not_a_member",
                        field="member",
                    )
                services.rate_peer(
                    user=request.user, meeting=meeting, member=members[member_id], grade=grade
                )
    except NotFound:
        raise Http404 from None
    except ServiceError as exc:
        context = _detail_context(attendee, rating_error=str(exc.message), posted_grades=wanted)
        return render(request, DETAIL, context, status=exc.status)
    messages.success(request, _("Your ratings are saved."))
    return _back(meeting, "#appraisal")


# Sign-in by QR code ------------------------------------------------------------------------------


SEEN = "meeting_codes_seen"  # session: meeting pk -> [code, when it was seen valid]


def _remember_code(request, pk: int, code: str) -> None:
    """A code valid when its page was opened stays good for this browser a few minutes more: a
    member who scans and then has to log in would otherwise find it changed meanwhile."""
    meeting = Meeting.objects.filter(pk=pk).first() if 0 < pk < 2**63 else None
    if meeting is not None and services.code_is_valid(meeting, code):
        seen = dict(request.session.get(SEEN, {}))
        seen[str(pk)] = [code, time.time()]
        request.session[SEEN] = dict(list(seen.items())[-10:])


def _seen_at(request, pk: int, code: str) -> float | None:
    found = request.session.get(SEEN, {}).get(str(pk))
    if found and found[0] == code:
        return float(found[1])
    return None


@never_cache
@require_http_methods(["GET", "POST"])
def sign_in(request, pk):
    """What the QR code on the recorder's screen opens: the meeting and a big button. Only the
    POST signs in (a link preview or a prefetch must not); the success page follows it. Not
    logged in yet: the code is remembered as seen, then the login page, then back here."""
    if request.method == "GET" and request.GET.get("code"):
        _remember_code(request, pk, str(request.GET["code"])[:100])
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    attendee = _mine(request.user, pk)
    meeting = attendee.meeting
    source = request.POST if request.method == "POST" else request.GET
    code = str(source.get("code", ""))[:100]
    now = timezone.now()
    opens, closes = services.signin_window(meeting)
    context = {
        "meeting": meeting,
        "me": _label(attendee, now),
        "code": code,
        "fresh": request.GET.get("done") == "new",
        "opens_at": meeting.starts_at - rules.SIGNIN_BEFORE,
        "not_yet": now.timestamp() < opens,
        "closed": now.timestamp() > closes,
    }
    if request.method == "POST":
        was_present = attendee.state == AttendeeState.PRESENT
        try:
            services.sign_in(
                user=request.user,
                meeting=meeting,
                code=code,
                seen_at=_seen_at(request, meeting.pk, code),
            )
        except NotFound:
            raise Http404 from None
        except ServiceError as exc:
            if not was_present:
                context |= {"error": exc.message, "error_code": exc.code}
                return render(request, SIGN_IN, context, status=exc.status)
            # Signed in already: whatever the code now, there is nothing to refuse.
        done = "again" if was_present else "new"
        return redirect(f"{reverse('meetings:sign_in', args=[meeting.pk])}?done={done}")
    return render(request, SIGN_IN, context)
