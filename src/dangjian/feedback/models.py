"""Requests from the public (群众诉求): the desks that take them, routing rules, deadlines, the
requests with their history, photos and ratings.

A request belongs to one organisation at a time (`organization`, with a copy of its path for
subtree scans). Higher committees see it through their scope; when it is overdue it is escalated:
the committee above is told and lists it apart, and the owner stays responsible.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dangjian.core.models import Organization, User

from . import rules


class Category(models.TextChoices):
    HELP = "help", _("Request for help")
    OPINION = "opinion", _("Opinion")
    SUGGESTION = "suggestion", _("Suggestion")
    COMPLAINT = "complaint", _("Complaint")
    PRAISE = "praise", _("Praise")
    OTHER = "other", _("Other")


class Status(models.TextChoices):
    RECEIVED = rules.RECEIVED, _("Received")
    ACCEPTED = rules.ACCEPTED, _("Accepted")
    IN_PROGRESS = rules.IN_PROGRESS, _("In progress")
    ANSWERED = rules.ANSWERED, _("Answered")
    CLOSED = rules.CLOSED, _("Closed")
    REJECTED = rules.REJECTED, _("Rejected")
    MERGED = rules.MERGED, _("Merged")


class Desk(models.Model):
    """A place that accepts requests (诉求受理点): an organisation, shown on the public desk, with
    a code for the QR poster in the neighbourhood."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="desk", verbose_name=_("organisation")
    )
    code = models.SlugField(_("code"), max_length=32, unique=True)
    place = models.CharField(_("place"), max_length=100, blank=True)
    intro = models.TextField(_("introduction"), blank=True, max_length=500)
    active = models.BooleanField(_("accepts requests"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("desk")
        ordering = ["organization__path"]

    def __str__(self) -> str:
        return self.place or self.organization.name


class RoutingRule(models.Model):
    """Requests whose words include these keywords go to `organization` (maintained by an
    administrator of the organisation or above)."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", verbose_name=_("organisation")
    )
    category = models.CharField(_("category"), max_length=16, choices=Category.choices, blank=True)
    keywords = models.CharField(_("keywords"), max_length=500)
    weight = models.PositiveSmallIntegerField(_("weight"), default=1)
    active = models.BooleanField(_("active"), default=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("routing rule")
        ordering = ["organization__path", "id"]

    def __str__(self) -> str:
        return self.keywords


class DeadlinePolicy(models.Model):
    """A local override of the working days to acknowledge and to answer one category."""

    category = models.CharField(_("category"), max_length=16, choices=Category.choices, unique=True)
    ack_days = models.PositiveSmallIntegerField(_("working days to acknowledge"))
    answer_days = models.PositiveSmallIntegerField(_("working days to answer"))
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("deadline")

    def __str__(self) -> str:
        return f"{self.category}: {self.ack_days}/{self.answer_days}"


class PublicRequest(models.Model):
    """A request or opinion from the public (群众诉求)."""

    number = models.CharField(_("tracking number"), max_length=20, unique=True)
    check_hash = models.CharField(max_length=128, editable=False)
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    desk = models.ForeignKey(
        Desk, null=True, blank=True, on_delete=models.SET_NULL, related_name="requests"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+", verbose_name=_("organisation")
    )
    org_path = models.CharField(max_length=255, editable=False)
    routed_by = models.CharField(max_length=16, blank=True)  # chosen, desk, rule, forwarded
    text = models.TextField(_("text"))
    # Who submitted it, sealed (core.crypto); anonymous when all are empty.
    name_encrypted = models.TextField(blank=True, default="", editable=False)
    phone_encrypted = models.TextField(blank=True, default="", editable=False)
    phone_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    email_encrypted = models.TextField(blank=True, default="", editable=False)
    consent_contact = models.BooleanField(_("may be contacted"), default=False)
    allow_public = models.BooleanField(_("may be shown on the public page"), default=False)
    featured = models.BooleanField(_("shown on the public page"), default=False)

    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.RECEIVED
    )
    assignee = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(_("submitted"), default=timezone.now)
    ack_due_at = models.DateTimeField(_("acknowledge by"))
    answer_due_at = models.DateTimeField(_("answer by"))
    deadline_rule = models.CharField(max_length=16)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    public_reply = models.TextField(_("public reply"), blank=True)
    replied_by = models.CharField(_("answered by"), max_length=100, blank=True)
    reject_reason = models.CharField(_("reason"), max_length=500, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged"
    )
    # Deadline sweep: when the committee above was told, and reminders sent.
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalated_to = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reminded_at = models.DateTimeField(null=True, blank=True)

    rating = models.PositiveSmallIntegerField(_("satisfaction"), null=True, blank=True)
    rating_comment = models.CharField(_("comment"), max_length=500, blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)
    reopened = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("request from the public")
        ordering = ["-submitted_at", "-id"]
        indexes = [
            models.Index(fields=["org_path", "submitted_at"], name="pubreq_scope"),
            models.Index(fields=["org_path", "status"], name="pubreq_scope_status"),
            models.Index(fields=["phone_hash"], name="pubreq_phone"),
            # The deadline sweep reads open requests by due date.
            models.Index(
                fields=["answer_due_at"],
                name="pubreq_open_due",
                condition=Q(status__in=sorted(rules.OPEN)),
            ),
            models.Index(
                fields=["featured", "answered_at"],
                name="pubreq_featured",
                condition=Q(featured=True),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5),
                name="pubreq_rating_range",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.status in rules.OPEN

    @property
    def summary(self) -> str:
        line = " ".join(self.text.split())
        return line if len(line) <= 40 else line[:39] + "…"


class EntryKind(models.TextChoices):
    SUBMITTED = "submitted", _("Submitted")
    ADDED = "added", _("More information from the person")
    NOTE = "note", _("Internal note")
    ACCEPTED = "accepted", _("Accepted")
    STARTED = "started", _("Work started")
    FORWARDED = "forwarded", _("Forwarded")
    MERGED = "merged", _("Merged")
    ASSIGNED = "assigned", _("Assigned")
    ANSWERED = "answered", _("Answered")
    CLOSED = "closed", _("Closed")
    REJECTED = "rejected", _("Rejected")
    RATED = "rated", _("Rated")
    REOPENED = "reopened", _("Reopened")
    ESCALATED = "escalated", _("Escalated")


# What the person who submitted the request sees of its history.
PUBLIC_KINDS = frozenset(
    {
        EntryKind.SUBMITTED,
        EntryKind.ADDED,
        EntryKind.ACCEPTED,
        EntryKind.STARTED,
        EntryKind.FORWARDED,
        EntryKind.MERGED,
        EntryKind.ANSWERED,
        EntryKind.CLOSED,
        EntryKind.REJECTED,
        EntryKind.RATED,
        EntryKind.REOPENED,
    }
)


# Of those, the steps whose text the person reads: their own words, replies and reasons given to
# them. A forward's reason, a merge note and the routing note are the staff's.
PUBLIC_TEXT_KINDS = frozenset(
    {EntryKind.ADDED, EntryKind.ANSWERED, EntryKind.REJECTED, EntryKind.RATED, EntryKind.REOPENED}
)


class Entry(models.Model):
    """One step in a request's history: notes, forwards, status changes, additions."""

    request = models.ForeignKey(PublicRequest, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    text = models.TextField(blank=True)
    author = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_org = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_org = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.request_id}: {self.kind}"

    @property
    def public(self) -> bool:
        return self.kind in PUBLIC_KINDS


def photo_path(instance, filename: str) -> str:
    return f"feedback/{timezone.localdate():%Y/%m}/{filename}"


class Photo(models.Model):
    """A photo attached by the person (re-encoded on upload: no location or camera data)."""

    request = models.ForeignKey(PublicRequest, on_delete=models.CASCADE, related_name="photos")
    image = models.FileField(upload_to=photo_path)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.image.name
