"""Moving members: transfers of membership (组织关系转接), introduction letters, mobile members.

A transfer is one row whatever its direction:
- internal: from an organisation of the platform to another; the receiving side accepts or
  returns it. The member stays where they were until accepted.
- outgoing: to an organisation outside the platform, with an introduction letter (stub, letter,
  receipt). The member leaves when the receipt comes back; an expired or cancelled letter leaves
  them where they were.
- incoming: a letter from outside registered by the receiving organisation; confirming it creates
  (or links) the member record with a transfer-in event.

At most one open transfer per member (a database constraint): nobody is ever in two places.
"""

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from dangjian.core.models import Organization


class Direction(models.TextChoices):
    INTERNAL = "internal", _("Within the platform")
    OUTGOING = "outgoing", _("Out of the platform")
    INCOMING = "incoming", _("Into the platform")


class State(models.TextChoices):
    PENDING = "pending", _("Pending")
    COMPLETED = "completed", _("Completed")
    RETURNED = "returned", _("Returned")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")


OPEN_STATES = (State.PENDING,)


class Transfer(models.Model):
    direction = models.CharField(_("direction"), max_length=10, choices=Direction.choices)
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.PENDING
    )
    member = models.ForeignKey(
        "members.Member",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="transfers",
        verbose_name=_("member"),
    )
    # What the receiving side may see before it accepts (the record itself stays hidden).
    person_name = models.CharField(_("person's name"), max_length=64)
    sex = models.CharField(_("sex"), max_length=1, blank=True)
    category = models.CharField(_("category"), max_length=16, blank=True)
    from_org = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="transfers_out",
        verbose_name=_("from"),
    )
    to_org = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="transfers_in",
        verbose_name=_("to"),
    )
    # The organisation outside the platform: where to (outgoing) or where from (incoming).
    counterpart = models.CharField(
        _("organisation outside the platform"), max_length=128, blank=True
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    started_on = models.DateField(_("started on"))
    started_by = models.ForeignKey(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_on = models.DateField(_("decided on"), null=True, blank=True)
    decided_by = models.ForeignKey(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decision_note = models.CharField(_("reason given"), max_length=255, blank=True)
    batch = models.UUIDField(null=True, blank=True, db_index=True)
    # Introduction letter (outgoing: ours, numbered per issuing committee and year; incoming:
    # the number printed on theirs).
    letter_number = models.CharField(_("letter number"), max_length=64, blank=True)
    letter_issuer = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("issued by"),
    )
    letter_year = models.PositiveSmallIntegerField(null=True, blank=True)
    letter_seq = models.PositiveIntegerField(null=True, blank=True)
    addressee = models.CharField(_("addressee"), max_length=128, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    receipt_on = models.DateField(_("receipt returned on"), null=True, blank=True)
    # Incoming: what the letter says of the person, until the record is created.
    incoming_data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("transfer")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["member"], condition=Q(state="pending"), name="transfer_one_open"
            ),
            models.UniqueConstraint(
                fields=["letter_issuer", "letter_year", "letter_seq"],
                condition=Q(letter_seq__isnull=False),
                name="transfer_letter_seq",
            ),
            models.UniqueConstraint(
                fields=["counterpart", "letter_number"],
                condition=Q(direction="incoming") & ~Q(state="cancelled"),
                name="transfer_incoming_letter",
            ),
        ]
        indexes = [
            models.Index(fields=["from_org", "state"], name="transfer_from_state"),
            models.Index(fields=["to_org", "state"], name="transfer_to_state"),
            models.Index(fields=["state", "valid_until"], name="transfer_state_valid"),
            models.Index(fields=["state", "started_on"], name="transfer_state_started"),
        ]

    def __str__(self) -> str:
        return f"{self.person_name} · {self.get_direction_display()}"

    @property
    def is_open(self) -> bool:
        return self.state == State.PENDING


class MobileState(models.TextChoices):
    ACTIVE = "active", _("Away")
    RETURNED = "returned", pgettext_lazy("mobile member", "Returned")
    CONVERTED = "converted", _("Turned into a transfer")


class MobileStay(models.Model):
    """A mobile member's time away (流动党员). Outgoing stays belong to a member of the
    platform; the host may be an organisation of the platform (it then sees them as incoming)
    or a place outside. Incoming stays may also be of members of elsewhere (no record here).
    Incoming mobile members join meetings and may pay dues at the host, never vote there."""

    member = models.ForeignKey(
        "members.Member",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="mobile_stays",
        verbose_name=_("member"),
    )
    person_name = models.CharField(_("person's name"), max_length=64)
    home_org = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="mobile_out",
        verbose_name=_("home organisation"),
    )
    home_text = models.CharField(_("home organisation (outside)"), max_length=128, blank=True)
    host_org = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="mobile_in",
        verbose_name=_("host organisation"),
    )
    destination = models.CharField(_("where to"), max_length=128, blank=True)
    card_number = models.CharField(_("activity card number"), max_length=32, blank=True)
    since = models.DateField(_("since"))
    expected_return = models.DateField(_("expected return"), null=True, blank=True)
    returned_on = models.DateField(_("returned on"), null=True, blank=True)
    state = models.CharField(
        _("state"), max_length=10, choices=MobileState.choices, default=MobileState.ACTIVE
    )
    transfer = models.OneToOneField(
        Transfer, on_delete=models.PROTECT, null=True, blank=True, related_name="mobile_stay"
    )
    note = models.CharField(_("note"), max_length=255, blank=True)
    created_by = models.ForeignKey(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("mobile member")
        ordering = ["-since", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["member"], condition=Q(state="active"), name="mobile_one_active"
            )
        ]
        indexes = [
            models.Index(fields=["home_org", "state"], name="mobile_home_state"),
            models.Index(fields=["host_org", "state"], name="mobile_host_state"),
        ]

    def __str__(self) -> str:
        return self.person_name


def new_batch() -> uuid.UUID:
    return uuid.uuid4()
