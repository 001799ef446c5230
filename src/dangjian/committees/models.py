"""Committees, their terms of office, office-holders and elections.

An organisation's leadership is a series of terms (届). Each term starts with an election (or is
entered from the paper record), ends when the next one starts, and is due for re-election at
`due_on` (the end of the term by `core.rules.term_end`, moved at most a year with approval).
Office-holders are dated rows: the current ones have no `ended_on`, the rest are the history.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from dangjian.core.models import Organization


class Form(models.TextChoices):
    COMMITTEE = "committee", _("Elected committee")
    SECRETARY = "secretary", _("Secretary only")


class Position(models.TextChoices):
    SECRETARY = "secretary", _("Secretary")
    DEPUTY = "deputy", _("Deputy secretary")
    ORGANISATION = "organisation", _("Organisation member")
    PUBLICITY = "publicity", _("Publicity member")
    DISCIPLINE = "discipline", _("Discipline member")
    YOUTH = "youth", _("Youth member")
    WOMEN = "women", _("Women's member")
    MEMBER = "member", _("Committee member")
    GROUP_LEADER = "group_leader", _("Group leader")


# Positions one person holds at a time in an organisation (several deputies may serve).
SINGLE_POSITIONS = frozenset(
    {
        Position.SECRETARY,
        Position.ORGANISATION,
        Position.PUBLICITY,
        Position.DISCIPLINE,
        Position.GROUP_LEADER,
    }
)


class Term(models.Model):
    """One term of office of an organisation's committee (or of its secretary)."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="terms", verbose_name=_("organisation")
    )
    form = models.CharField(_("form"), max_length=12, choices=Form.choices)
    elected_on = models.DateField(_("elected on"))
    term_years = models.PositiveSmallIntegerField(_("term in years"))
    rule_version = models.CharField(_("rule applied"), max_length=16)
    ends_on = models.DateField(_("term ends on"))
    # Re-election due: the end of the term unless moved (at most a year) with approval.
    due_on = models.DateField(_("re-election due on"))
    shift_reason = models.CharField(_("reason for moving the date"), max_length=255, blank=True)
    shift_reference = models.CharField(_("approval document"), max_length=64, blank=True)
    ended_on = models.DateField(_("ended on"), null=True, blank=True)
    election = models.OneToOneField(
        "Election", on_delete=models.PROTECT, null=True, blank=True, related_name="term"
    )
    created_by = models.ForeignKey(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("term of office")
        ordering = ["-elected_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization"], condition=Q(ended_on__isnull=True), name="term_one_current"
            )
        ]
        indexes = [
            models.Index(
                fields=["due_on"], condition=Q(ended_on__isnull=True), name="term_current_due"
            ),
            models.Index(fields=["organization", "elected_on"], name="term_org_elected"),
        ]

    def __str__(self) -> str:
        return f"{self.organization} {self.elected_on:%Y-%m-%d}–{self.ends_on:%Y-%m-%d}"


class OfficeHolder(models.Model):
    """A person in a position of an organisation, from `started_on` until `ended_on`."""

    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="office_holders",
        verbose_name=_("organisation"),
    )
    term = models.ForeignKey(
        Term, on_delete=models.PROTECT, null=True, blank=True, related_name="holders"
    )
    member = models.ForeignKey(
        "members.Member",
        on_delete=models.PROTECT,
        related_name="offices",
        verbose_name=_("member"),
    )
    # The name at the time, so the history reads right after the record changes or leaves.
    person_name = models.CharField(_("person's name"), max_length=64)
    position = models.CharField(_("position"), max_length=16, choices=Position.choices)
    started_on = models.DateField(_("since"))
    ended_on = models.DateField(_("until"), null=True, blank=True)
    end_reason = models.CharField(_("reason for leaving"), max_length=128, blank=True)
    reference = models.CharField(_("document number"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("office-holder")
        ordering = ["ended_on", "position", "started_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "position"],
                condition=Q(ended_on__isnull=True) & Q(position__in=sorted(SINGLE_POSITIONS)),
                name="holder_single_position",
            ),
            models.UniqueConstraint(
                fields=["organization", "member", "position"],
                condition=Q(ended_on__isnull=True),
                name="holder_once_per_position",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "ended_on"], name="holder_org_current"),
            models.Index(fields=["member", "started_on"], name="holder_member"),
        ]

    def __str__(self) -> str:
        return f"{self.person_name} · {self.get_position_display()}"

    @property
    def is_current(self) -> bool:
        return self.ended_on is None


class ElectionKind(models.TextChoices):
    GENERAL = "general", _("Re-election at term end")
    BY_ELECTION = "by_election", _("By-election")


class ElectionStatus(models.TextChoices):
    RECORDED = "recorded", _("Awaiting approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Not approved")


class Election(models.Model):
    """An election meeting's record: the numbers, each candidate's votes, and the approval."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="elections"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=ElectionKind.choices)
    form = models.CharField(_("form"), max_length=12, choices=Form.choices)
    held_on = models.DateField(_("held on"))
    seats = models.PositiveSmallIntegerField(_("seats"))
    voters_expected = models.PositiveIntegerField(_("voters expected"))
    voters_present = models.PositiveIntegerField(_("voters present"))
    valid = models.BooleanField(_("valid"), default=False)
    margin_ok = models.BooleanField(_("enough candidates"), default=False)
    problems = models.JSONField(default=list, blank=True)
    rule_version = models.CharField(max_length=16, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=ElectionStatus.choices, default=ElectionStatus.RECORDED
    )
    decided_on = models.DateField(_("approved on"), null=True, blank=True)
    decision_reference = models.CharField(_("approval document"), max_length=64, blank=True)
    decision_note = models.CharField(_("note"), max_length=255, blank=True)
    decided_by = models.ForeignKey(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("election")
        ordering = ["-held_on", "-id"]
        indexes = [
            models.Index(fields=["organization", "held_on"], name="election_org_held"),
            models.Index(fields=["status", "held_on"], name="election_status"),
        ]

    def __str__(self) -> str:
        return f"{self.organization} {self.held_on:%Y-%m-%d}"


class Candidate(models.Model):
    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="candidates")
    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", verbose_name=_("member")
    )
    person_name = models.CharField(_("person's name"), max_length=64)
    votes = models.PositiveIntegerField(_("votes"))
    elected = models.BooleanField(_("elected"), default=False)
    # The post the committee gives the person after the vote (书记 is elected by the committee).
    position = models.CharField(
        _("position"), max_length=16, choices=Position.choices, default=Position.MEMBER
    )

    class Meta:
        verbose_name = _("candidate")
        ordering = ["-votes", "id"]
        constraints = [
            models.UniqueConstraint(fields=["election", "member"], name="candidate_once")
        ]

    def __str__(self) -> str:
        return self.person_name
