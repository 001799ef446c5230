"""Core tables: accounts, the organisation tree, roles held at organisations, API tokens, audit."""

import uuid

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from treebeard.mp_tree import MP_Node

from . import permissions


class User(AbstractUser):
    """An account. Logs in by user name or mobile number (stored encrypted, found by hash)."""

    display_name = models.CharField(_("display name"), max_length=64, blank=True)
    mobile_hash = models.CharField(
        max_length=64, unique=True, null=True, blank=True, editable=False
    )
    mobile_encrypted = models.TextField(blank=True, default="", editable=False)

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def mobile(self) -> str:
        from .crypto import decrypt

        return decrypt(self.mobile_encrypted) if self.mobile_encrypted else ""

    def set_mobile(self, mobile: str) -> None:
        from .crypto import encrypt, keyed_hash

        mobile = (mobile or "").strip()
        self.mobile_hash = keyed_hash(mobile) if mobile else None
        self.mobile_encrypted = encrypt(mobile) if mobile else ""


class OrgKind(models.TextChoices):
    COMMITTEE = "committee", _("Party committee")
    GENERAL_BRANCH = "general_branch", _("General branch")
    BRANCH = "branch", _("Branch")
    JOINT_BRANCH = "joint_branch", _("Joint branch")
    GROUP = "group", _("Party group")


# Which kinds may stand directly under which (None = at the root of the tree).
ALLOWED_PARENT_KINDS: dict[str, frozenset] = {
    OrgKind.COMMITTEE: frozenset({None, OrgKind.COMMITTEE}),
    OrgKind.GENERAL_BRANCH: frozenset({OrgKind.COMMITTEE}),
    OrgKind.BRANCH: frozenset({OrgKind.COMMITTEE, OrgKind.GENERAL_BRANCH}),
    OrgKind.JOINT_BRANCH: frozenset({OrgKind.COMMITTEE, OrgKind.GENERAL_BRANCH}),
    OrgKind.GROUP: frozenset({OrgKind.BRANCH, OrgKind.JOINT_BRANCH}),
}
BRANCH_KINDS = frozenset({OrgKind.BRANCH, OrgKind.JOINT_BRANCH})


class UnitType(models.TextChoices):
    GOVERNMENT = "government", _("Government organ")
    PUBLIC_INSTITUTION = "institution", _("Public institution")
    ENTERPRISE = "enterprise", _("Enterprise")
    STATE_ENTERPRISE = "state_enterprise", _("State-owned enterprise")
    VILLAGE = "village", _("Village")
    COMMUNITY = "community", _("Community")
    SCHOOL = "school", _("School")
    SOCIAL_ORGANISATION = "social", _("Social organisation")
    OTHER = "other", _("Other")


class OrgStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    DISSOLVED = "dissolved", _("Dissolved")


class Organization(MP_Node):
    """A Party organisation (党组织): committee, general branch, branch, joint branch or group.

    The tree is a materialised path: the subtree of X is every row whose path starts with X.path,
    one indexed range scan on PostgreSQL and SQLite alike.
    """

    steplen = 4

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("full name"), max_length=128)
    short_name = models.CharField(_("short name"), max_length=64, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=OrgKind.choices)
    unit_type = models.CharField(
        _("unit type"), max_length=20, choices=UnitType.choices, default=UnitType.OTHER
    )
    established_on = models.DateField(_("established on"), null=True, blank=True)
    contact_person = models.CharField(_("contact person"), max_length=64, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=32, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=OrgStatus.choices, default=OrgStatus.ACTIVE
    )
    dissolved_on = models.DateField(_("dissolved on"), null=True, blank=True)
    display_order = models.IntegerField(_("display order"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        indexes = [
            # LIKE 'prefix%' on PostgreSQL databases whose collation is not C.
            models.Index(fields=["path"], name="org_path_like", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["kind", "status"], name="org_kind_status"),
            models.Index(fields=["name"], name="org_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == OrgStatus.ACTIVE

    @property
    def parent_path(self) -> str:
        return self.path[: -self.steplen]

    def ancestor_paths(self) -> list[str]:
        return [self.path[:i] for i in range(self.steplen, len(self.path) + 1, self.steplen)]


class RoleAssignment(models.Model):
    """A role held by a user at an organisation; it reaches the organisation's whole subtree."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="role_assignments")
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="role_assignments"
    )
    role = models.CharField(_("role"), max_length=32, choices=permissions.role_choices())
    granted_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    granted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("role assignment")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization", "role"], name="role_assignment_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} @ {self.organization}"


class ApiToken(models.Model):
    """A personal access token for the API. Only a SHA-256 digest of the secret is kept."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=64)
    prefix = models.CharField(max_length=12, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API token")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("The audit log is append-only")

    def delete(self):
        raise TypeError("The audit log is append-only")


class AuditEvent(models.Model):
    """One change (or one sensitive read), append-only. Survives the deletion of its object:
    it keeps the object's type, id and label as text, never a foreign key to it."""

    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    # No database constraint: deleting an account must not touch (or be blocked by) its events.
    user = models.ForeignKey(
        User,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    user_label = models.CharField(max_length=150, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, db_index=True)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    object_label = models.CharField(max_length=255, blank=True)
    # Path of the organisation the object belongs to, so the log can be scoped to a subtree.
    org_path = models.CharField(max_length=255, blank=True, default="")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    # What the event is about when that is more than its object: "members.member:42" for a
    # member's timeline, family, documents... so a record's change history is one index look-up.
    # Nullable so adding it never rewrites the (append-only) table.
    subject = models.CharField(max_length=80, null=True, blank=True)  # noqa: DJ001

    objects = AuditQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
            models.Index(fields=["subject"], name="audit_subject"),
            models.Index(fields=["org_path", "at"], name="audit_org_path_at"),
            models.Index(fields=["user", "at"], name="audit_user_at"),
            models.Index(fields=["action", "at"], name="audit_action_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.user_label} {self.action} {self.object_label}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("The audit log is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("The audit log is append-only")


def subtree_q(path: str, field: str = "path") -> Q:
    """Rows whose (organisation) path lies in the subtree rooted at `path`."""
    return Q(**{f"{field}__startswith": path})


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class Job(models.Model):
    """A piece of long work (export, import, report) run by the background worker, with its
    progress for the progress bar and, when done, the file it produced. Seen only by its owner."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=64)
    title = models.CharField(max_length=200)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="jobs")
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    result = models.FileField(upload_to="jobs/%Y/%m/", blank=True)
    result_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("background job")
        indexes = [models.Index(fields=["user", "created_at"], name="job_user_created")]

    def __str__(self) -> str:
        return self.title

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED)

    @property
    def percent(self) -> int:
        if self.status == JobStatus.DONE:
            return 100
        if not self.total:
            return 0
        return min(99, int(self.done * 100 / self.total))


class Notification(models.Model):
    """A message to one user in the platform (the bell in the navigation bar). `key` makes
    sending idempotent: a sweep that runs twice, or on two workers, sends once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=32)
    key = models.CharField(max_length=128)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), blank=True)
    url = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="notification_once")]
        indexes = [
            models.Index(fields=["user", "read_at", "created_at"], name="notification_inbox"),
            # The sweeps ask which keys were already sent, to whomever (notification_once leads
            # with the user and cannot serve that).
            models.Index(fields=["key"], name="notification_key"),
        ]

    def __str__(self) -> str:
        return self.title


class CalendarDayKind(models.TextChoices):
    HOLIDAY = "holiday", _("Holiday")
    WORKDAY = "workday", _("Make-up working day")


class CalendarDay(models.Model):
    """An exception to the ordinary week in the working-day calendar (工作日历): a public holiday
    (节假日, off even on a weekday) or a make-up working day (调休上班, a Saturday or Sunday that is
    worked). Every other day is a working day from Monday to Friday. Maintained by
    administrators; read through `core.workdays`."""

    date = models.DateField(_("date"), unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=CalendarDayKind.choices)
    name = models.CharField(_("name"), max_length=32, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Part of the calendar's cache version (core.workdays.calendar_version).
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["holiday", "workday"]), name="calendar_day_kind"
            )
        ]

    def __str__(self) -> str:
        return f"{self.date.isoformat()} {self.get_kind_display()} {self.name}".strip()
