"""Organisational life (三会一课, 主题党日, 组织生活会, 民主评议): activity types and their required
frequencies, local rules per subtree, meetings with attendees, leave, sign-in, minutes, files and
votes, democratic appraisal, and the month tallies compliance is read from.

A meeting belongs to one organisation (with a copy of its path for subtree scans). `MonthTally`
counts the meetings held per organisation, type and month; the services keep it in step, so a
committee's heat map reads thousands of small rows, never every meeting.
"""

import secrets

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from dangjian.core.models import Organization, User
from dangjian.members.models import Member

from . import rules


class Frequency(models.TextChoices):
    MONTH = rules.MONTH, _("Once a month")
    QUARTER = rules.QUARTER, _("Once a quarter")
    HALF = rules.HALF, _("Once every half year")
    YEAR = rules.YEAR, _("Once a year")
    NONE = rules.NONE, _("Not required")


class ActivityType(models.Model):
    """A kind of organisational life: the eight of DOMAIN §6 and any an administrator adds."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=50)
    frequency = models.CharField(
        _("required frequency"), max_length=8, choices=Frequency.choices, default=Frequency.NONE
    )
    kinds = models.CharField(
        _("organisations that hold it"), max_length=100, help_text="comma-separated kinds"
    )
    class_hours = models.DecimalField(_("class hours"), max_digits=4, decimal_places=1, default=1)
    votes = models.BooleanField(_("resolutions are voted"), default=False)
    appraisal = models.BooleanField(_("members are appraised"), default=False)
    builtin = models.BooleanField(default=False, editable=False)
    active = models.BooleanField(_("active"), default=True)
    order = models.PositiveSmallIntegerField(default=100)

    class Meta:
        verbose_name = _("activity type")
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def kind_set(self) -> frozenset[str]:
        return frozenset(k for k in self.kinds.split(",") if k)


class FrequencyRule(models.Model):
    """A local rule: in this organisation's subtree the activity is due at another frequency
    (the deepest rule above an organisation wins)."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", verbose_name=_("organisation")
    )
    activity_type = models.ForeignKey(
        ActivityType, on_delete=models.CASCADE, related_name="+", verbose_name=_("activity")
    )
    frequency = models.CharField(_("required frequency"), max_length=8, choices=Frequency.choices)
    note = models.CharField(_("source"), max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("local frequency rule")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "activity_type"], name="frequency_rule_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization_id}:{self.activity_type_id}={self.frequency}"


class MeetingStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    HELD = "held", _("Held")
    CANCELLED = "cancelled", _("Cancelled")


def new_secret() -> str:
    return secrets.token_hex(32)


class Meeting(models.Model):
    """One meeting or activity of an organisation."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+", verbose_name=_("organisation")
    )
    org_path = models.CharField(max_length=255, editable=False)
    activity_type = models.ForeignKey(
        ActivityType, on_delete=models.PROTECT, related_name="+", verbose_name=_("activity")
    )
    topic = models.CharField(_("topic"), max_length=200)
    agenda = models.TextField(_("agenda"), blank=True, max_length=4000)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    place = models.CharField(_("place"), max_length=200, blank=True)
    online_link = models.URLField(_("online link"), blank=True, max_length=500)
    host = models.CharField(_("host"), max_length=64, blank=True)
    recorder = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("recorder"),
    )
    lecturer = models.CharField(_("lecturer"), max_length=64, blank=True)
    lecture_title = models.CharField(_("lecture title"), max_length=200, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=MeetingStatus.choices, default=MeetingStatus.PLANNED
    )
    minutes = models.TextField(_("minutes"), blank=True)  # sanitised HTML
    class_hours = models.DecimalField(_("class hours"), max_digits=4, decimal_places=1, default=1)
    notice_sent_at = models.DateTimeField(null=True, blank=True)
    held_at = models.DateTimeField(null=True, blank=True)  # when it was recorded as held
    signin_secret = models.CharField(max_length=64, default=new_secret, editable=False)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("meeting")
        ordering = ["-starts_at", "-id"]
        indexes = [
            models.Index(fields=["org_path", "starts_at"], name="meeting_scope"),
            models.Index(
                fields=["organization", "activity_type", "starts_at"], name="meeting_org_type"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gte=models.F("starts_at")), name="meeting_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return self.topic

    @property
    def is_held(self) -> bool:
        return self.status == MeetingStatus.HELD


class AttendeeState(models.TextChoices):
    EXPECTED = "expected", _("Expected")
    PRESENT = "present", _("Present")
    LEAVE = "leave", _("On leave")
    ABSENT = "absent", _("Absent")


class LeaveState(models.TextChoices):
    NONE = "", _("No leave asked")
    ASKED = "asked", _("Leave asked")
    APPROVED = "approved", _("Leave approved")
    REFUSED = "refused", _("Leave refused")


class Attendee(models.Model):
    """Someone expected at a meeting: a member of the organisation, or a guest (an incoming
    mobile member, who takes part but never votes here)."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="attendees")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    guest = models.BooleanField(_("guest"), default=False)
    may_vote = models.BooleanField(pgettext_lazy("has a vote", "votes"), default=False)
    name = models.CharField(_("name"), max_length=64)
    state = models.CharField(
        _("attendance"), max_length=12, choices=AttendeeState.choices, default="expected"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_how = models.CharField(max_length=8, blank=True)  # qr, manual
    leave_state = models.CharField(
        _("leave"), max_length=12, choices=LeaveState.choices, default="", blank=True
    )
    leave_reason = models.CharField(_("reason for leave"), max_length=200, blank=True)
    leave_decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    class_hours = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)

    class Meta:
        ordering = ["guest", "name", "id"]
        constraints = [models.UniqueConstraint(fields=["meeting", "member"], name="attendee_once")]
        indexes = [models.Index(fields=["member", "meeting"], name="attendee_member")]

    def __str__(self) -> str:
        return self.name


class Resolution(models.Model):
    """A resolution put to the vote at a meeting, with its outcome by DOMAIN §4."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="resolutions")
    title = models.CharField(_("resolution"), max_length=200)
    voting_members = models.PositiveIntegerField(_("voting members expected"))
    present = models.PositiveIntegerField(_("voting members present"))
    yes = models.PositiveIntegerField(_("yes"))
    no = models.PositiveIntegerField(_("no"))
    abstain = models.PositiveIntegerField(_("abstentions"))
    written = models.PositiveIntegerField(_("written opinions in favour"), default=0)
    valid = models.BooleanField()
    passed = models.BooleanField()
    secret_ballot = models.BooleanField(_("secret ballot"), default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.title


def file_path(instance, filename: str) -> str:
    return f"meetings/{timezone.localdate():%Y/%m}/{filename}"


class MeetingFile(models.Model):
    """A photo or a document of a meeting (checked and renamed on upload)."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="files")
    file = models.FileField(upload_to=file_path)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=12)  # photo, document
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Grade(models.TextChoices):
    EXCELLENT = "excellent", _("Excellent")
    QUALIFIED = "qualified", _("Qualified")
    BASIC = "basic", _("Basically qualified")
    UNQUALIFIED = "unqualified", _("Unqualified")


class Assessment(models.Model):
    """At an appraisal: a member's self-assessment (rater empty) or one peer's grade of them."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="assessments")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    rater = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    grade = models.CharField(max_length=12, choices=Grade.choices, blank=True)
    text = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["meeting", "member", "rater"], name="assessment_once"),
            models.UniqueConstraint(
                fields=["meeting", "member"],
                condition=Q(rater__isnull=True),
                name="self_assessment_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.meeting_id}:{self.member_id}"


class Conclusion(models.Model):
    """The branch's conclusion on one member at an appraisal."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="conclusions")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    grade = models.CharField(_("conclusion"), max_length=12, choices=Grade.choices)
    note = models.CharField(_("note"), max_length=500, blank=True)
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["meeting", "member"], name="conclusion_once")
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.grade}"


class MonthTally(models.Model):
    """Meetings held by an organisation, of one type, in one month (kept by the services)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    org_path = models.CharField(max_length=255)
    activity_type = models.ForeignKey(ActivityType, on_delete=models.CASCADE, related_name="+")
    year = models.PositiveSmallIntegerField()
    month = models.PositiveSmallIntegerField()
    held = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "activity_type", "year", "month"], name="tally_once"
            )
        ]
        indexes = [models.Index(fields=["year", "org_path"], name="tally_scope")]

    def __str__(self) -> str:
        return f"{self.organization_id}/{self.activity_type_id}/{self.year}-{self.month}"
