"""Party dues (党费): yearly bases, one ledger line per member and month, payments and what they
paid, hardship relief, arrears decisions, bank statements, and per-organisation monthly totals.

The ledger is the one place that says what was owed and paid. `LedgerLine.due` comes from the
member's base for the year (or relief); `paid` is the sum of the allocations of payments not
reversed. Services keep `status` and the `MonthTotal` rows in step, so lists and reports read
plain indexed columns, never sums over millions of lines.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from dangjian.core.models import Organization

from . import rules


class Category(models.TextChoices):
    IN_SERVICE = rules.IN_SERVICE, _("In service")
    RETIRED = rules.RETIRED, _("Retired")
    FARMER = rules.FARMER, _("Farmer")
    STUDENT = rules.STUDENT, _("Student")
    UNEMPLOYED = rules.UNEMPLOYED, _("Unemployed")
    RELIEF = rules.RELIEF, _("Living on relief or minimum-living allowance")


class LineStatus(models.TextChoices):
    UNPAID = rules.UNPAID, _("Unpaid")
    PARTIAL = rules.PARTIAL, _("Partly paid")
    PAID = rules.PAID, _("Paid")
    EXEMPT = rules.EXEMPT, _("Exempt")
    NO_BASE = rules.NO_BASE, _("No base declared")


class Method(models.TextChoices):
    CASH = "cash", _("Cash")
    BANK = "bank", _("Bank transfer")
    ONLINE = "online", _("Online payment")


class PaymentKind(models.TextChoices):
    DUES = "dues", _("Monthly dues")
    VOLUNTARY = "voluntary", _("Voluntary payment")


DECIMAL = {"max_digits": 12, "decimal_places": 2}


class DuesBase(models.Model):
    """A member's declared category and base for one year (2017 rule: fixed for the year)."""

    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="dues_bases"
    )
    year = models.PositiveSmallIntegerField(_("year"))
    category = models.CharField(_("dues category"), max_length=16, choices=Category.choices)
    # Monthly income for in service and retired; the chosen amount for farmers; 0 otherwise.
    base = models.DecimalField(_("monthly base"), **DECIMAL)
    computed = models.DecimalField(_("amount by the rules"), **DECIMAL)
    override = models.DecimalField(_("amount set by hand"), null=True, blank=True, **DECIMAL)
    override_reason = models.CharField(_("reason for the amount"), max_length=255, blank=True)
    rule_version = models.CharField(max_length=16)
    declared_by = models.ForeignKey(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    declared_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("dues base")
        verbose_name_plural = _("dues bases")
        constraints = [
            models.UniqueConstraint(fields=["member", "year"], name="dues_base_member_year")
        ]

    def __str__(self) -> str:
        return f"{self.year} {self.get_category_display()} {self.amount}"

    @property
    def amount(self):
        """The monthly amount owed: set by hand (audited) or by the rules."""
        return self.override if self.override is not None else self.computed

    @property
    def unusual(self) -> bool:
        return rules.is_unusual(self.amount)


class ReliefKind(models.TextChoices):
    REDUCE = "reduce", _("Reduction")
    EXEMPT = "exempt", _("Exemption")


class ReliefState(models.TextChoices):
    PENDING = "pending", _("Awaiting the higher committee")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Not approved")


class Relief(models.Model):
    """Hardship reduction or exemption (DOMAIN §2): the branch approves, the committee above
    signs off; only then do the ledger lines change."""

    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="reliefs")
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch")
    )
    year = models.PositiveSmallIntegerField(_("year"))
    from_month = models.PositiveSmallIntegerField(_("from month"))
    to_month = models.PositiveSmallIntegerField(_("to month"))
    kind = models.CharField(_("kind"), max_length=8, choices=ReliefKind.choices)
    amount = models.DecimalField(_("reduced monthly amount"), null=True, blank=True, **DECIMAL)
    reason = models.CharField(_("reason"), max_length=255)
    branch_decided_on = models.DateField(_("date of the branch's decision"))
    branch_reference = models.CharField(_("branch meeting record"), max_length=64, blank=True)
    requested_by = models.ForeignKey(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    state = models.CharField(
        _("state"), max_length=10, choices=ReliefState.choices, default=ReliefState.PENDING
    )
    signed_by = models.ForeignKey(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    signed_on = models.DateField(_("date of sign-off"), null=True, blank=True)
    sign_note = models.CharField(_("note of the higher committee"), max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("dues relief")
        verbose_name_plural = _("dues reliefs")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["member", "year"], name="dues_relief_member_year")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.year}-{self.from_month}..{self.to_month}"

    def covers(self, year: int, month: int) -> bool:
        return self.year == year and self.from_month <= month <= self.to_month


class LedgerLine(models.Model):
    """One member and month: what was owed, to which organisation, and what was paid."""

    id = models.BigAutoField(primary_key=True)
    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="ledger", db_index=False
    )
    year = models.PositiveSmallIntegerField(_("year"))
    month = models.PositiveSmallIntegerField(_("month"))
    # The organisation collecting this month: the member's own, or the host of a mobile stay.
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    org_path = models.CharField(max_length=255)
    hosted = models.BooleanField(default=False)
    due = models.DecimalField(_("amount due"), null=True, blank=True, **DECIMAL)
    paid = models.DecimalField(_("amount paid"), default=0, **DECIMAL)
    status = models.CharField(
        _("state"), max_length=8, choices=LineStatus.choices, default=LineStatus.NO_BASE
    )
    paid_on = models.DateField(_("date paid"), null=True, blank=True)

    class Meta:
        verbose_name = _("ledger line")
        verbose_name_plural = _("ledger lines")
        constraints = [
            models.UniqueConstraint(
                fields=["member", "year", "month"], name="dues_line_member_month"
            )
        ]
        indexes = [
            # A branch's grid and month totals.
            models.Index(fields=["organization", "year", "month"], name="dues_line_org_month"),
            # A subtree's lines (scoped lists, generating and totalling a subtree's year).
            models.Index(fields=["org_path", "year", "month"], name="dues_line_path_month"),
            # Arrears in a subtree: only unpaid lines are indexed.
            models.Index(
                fields=["org_path", "year", "month"],
                condition=Q(status="unpaid"),
                name="dues_line_unpaid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.year}-{self.month:02d}"

    @property
    def remaining(self):
        if self.due is None or self.status == LineStatus.EXEMPT:
            return 0
        return max(self.due - self.paid, 0)


class Payment(models.Model):
    """Money received from a member: monthly dues for one or more months, or a voluntary
    payment. Recorded once: `reference` (bank or online) is unique per collecting organisation
    and method (two branches' banks may well use the same serial), `request_key` (one per form
    or API request, namespaced: "web:", "api:", internal ones) is unique, so replaying a request
    returns the same payment. Reversing a payment frees its reference: it moves to
    `reversed_reference`, so the money can be recorded again, rightly this time."""

    id = models.BigAutoField(primary_key=True)
    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="dues_payments"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+", verbose_name=_("collected by")
    )
    org_path = models.CharField(max_length=255)
    kind = models.CharField(
        _("kind"), max_length=10, choices=PaymentKind.choices, default=PaymentKind.DUES
    )
    amount = models.DecimalField(_("amount"), **DECIMAL)
    paid_on = models.DateField(_("date paid"))
    method = models.CharField(_("method"), max_length=8, choices=Method.choices)
    reference = models.CharField(_("payment reference"), max_length=64, blank=True)
    # NULL, not "", when absent: the unique constraint ignores NULLs.
    request_key = models.CharField(  # noqa: DJ001
        max_length=80, null=True, blank=True, editable=False
    )
    receipt_no = models.CharField(_("receipt number"), max_length=24, blank=True)
    note = models.CharField(_("note"), max_length=255, blank=True)
    # Paying in advance for several months, or by proxy, needs the branch's approval.
    approval = models.CharField(_("branch approval"), max_length=128, blank=True)
    proxy_name = models.CharField(_("paid on behalf by"), max_length=64, blank=True)
    # A voluntary one-off payment of 1,000 yuan or more is remitted to the centre apart.
    large_one_off = models.BooleanField(default=False)
    recorded_by = models.ForeignKey(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversed_by = models.ForeignKey(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reverse_reason = models.CharField(_("reason for reversal"), max_length=255, blank=True)
    # The reference the payment carried before it was reversed (then `reference` is blank).
    reversed_reference = models.CharField(_("reference before reversal"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("dues payment")
        verbose_name_plural = _("dues payments")
        ordering = ["-paid_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "method", "reference"],
                condition=~Q(reference=""),
                name="dues_payment_org_reference",
            ),
            models.UniqueConstraint(fields=["request_key"], name="dues_payment_request"),
        ]
        indexes = [
            models.Index(fields=["member", "paid_on"], name="dues_payment_member"),
            models.Index(fields=["org_path", "paid_on"], name="dues_payment_org"),
        ]

    def __str__(self) -> str:
        return self.receipt_no or f"#{self.pk}"

    @property
    def reversed(self) -> bool:
        return self.reversed_at is not None

    @property
    def original_reference(self) -> str:
        """The reference as the bank or payment service gave it, reversed or not."""
        return self.reference or self.reversed_reference


class Allocation(models.Model):
    """The part of a payment that paid one ledger line."""

    id = models.BigAutoField(primary_key=True)
    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="allocations")
    line = models.ForeignKey(LedgerLine, on_delete=models.PROTECT, related_name="allocations")
    amount = models.DecimalField(**DECIMAL)

    class Meta:
        indexes = [models.Index(fields=["line"], name="dues_allocation_line")]

    def __str__(self) -> str:
        return f"{self.payment_id}→{self.line_id}: {self.amount}"


class MonthTotal(models.Model):
    """Totals of the lines one organisation collects in one month, kept by the services:
    reports of a whole tree add up these rows instead of millions of lines."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    org_path = models.CharField(max_length=255)
    year = models.PositiveSmallIntegerField()
    month = models.PositiveSmallIntegerField()
    lines = models.PositiveIntegerField(default=0)
    due = models.DecimalField(default=0, max_digits=14, decimal_places=2)
    paid = models.DecimalField(default=0, max_digits=14, decimal_places=2)
    paid_lines = models.PositiveIntegerField(default=0)
    partial_lines = models.PositiveIntegerField(default=0)
    exempt_lines = models.PositiveIntegerField(default=0)
    no_base_lines = models.PositiveIntegerField(default=0)
    voluntary = models.DecimalField(default=0, max_digits=14, decimal_places=2)
    large_one_off = models.DecimalField(default=0, max_digits=14, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "year", "month"], name="dues_total_org_month"
            )
        ]
        indexes = [models.Index(fields=["year", "org_path"], name="dues_total_year_path")]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.year}-{self.month:02d}"


class ArrearsDecision(models.Model):
    """The branch meeting's decision on a member flagged for six unpaid months. Never automatic:
    recorded by a person, audited; `left` also records leaving on the member's timeline."""

    class Outcome(models.TextChoices):
        GOOD_REASON = "good_reason", _("Good reason: keep and follow up")
        WARNED = "warned", _("Talked to and given time to pay")
        LEFT = "left", _("Treated as having left the Party (自行脱党)")

    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    # The run of unpaid months the meeting considered.
    first_year = models.PositiveSmallIntegerField()
    first_month = models.PositiveSmallIntegerField()
    through_year = models.PositiveSmallIntegerField()
    through_month = models.PositiveSmallIntegerField()
    outcome = models.CharField(_("decision"), max_length=16, choices=Outcome.choices)
    meeting_on = models.DateField(_("date of the branch meeting"))
    reference = models.CharField(_("meeting record"), max_length=64, blank=True)
    note = models.CharField(_("note"), max_length=255, blank=True)
    decided_by = models.ForeignKey(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-meeting_on", "-id"]
        indexes = [models.Index(fields=["member", "through_year"], name="dues_arrears_member")]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} {self.meeting_on}"


class StatementState(models.TextChoices):
    PREVIEW = "preview", _("Checked, awaiting confirmation")
    CONFIRMED = "confirmed", _("Confirmed")


class Statement(models.Model):
    """A bank statement imported for reconciliation by an organisation."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    org_path = models.CharField(max_length=255)
    file_name = models.CharField(max_length=255)
    state = models.CharField(
        max_length=10, choices=StatementState.choices, default=StatementState.PREVIEW
    )
    uploaded_by = models.ForeignKey(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]

    def __str__(self) -> str:
        return self.file_name


class MatchState(models.TextChoices):
    MATCHED = "matched", _("Matched")
    AMBIGUOUS = "ambiguous", _("Ambiguous")
    UNMATCHED = "unmatched", _("Unmatched")
    RECORDED = "recorded", _("Already recorded")


class StatementLine(models.Model):
    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="lines")
    row = models.PositiveIntegerField()
    paid_on = models.DateField(null=True, blank=True)
    amount = models.DecimalField(**DECIMAL)
    name = models.CharField(max_length=64, blank=True)
    reference = models.CharField(max_length=64, blank=True)
    memo = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=10, choices=MatchState.choices)
    # Why a line is unmatched (or what to check on a matched one, e.g. months paid late).
    reason = models.CharField(max_length=255, blank=True)
    # Candidates: [{"member": id, "lines": [line ids]}]; the chosen one once matched.
    candidates = models.JSONField(default=list)
    chosen = models.JSONField(null=True, blank=True)
    payment = models.ForeignKey(
        Payment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["row"]

    def __str__(self) -> str:
        return f"{self.row}: {self.amount}"
