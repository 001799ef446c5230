"""Member records (党员档案): the national record (DOMAIN §8) with its usual extras, the
Party-standing timeline, and the related tables (family, education and work history, rewards and
discipline, documents).

Category, standing, status, organisation, contact and mobility are a cache of the timeline
(`members.rules.derive`): services write events and then store the derived state on the record, so
lists filter on plain indexed columns.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from dangjian.core import codes
from dangjian.core.models import Organization

from . import rules


class Sex(models.TextChoices):
    # GB/T 2261.1 codes
    MALE = "1", _("Male")
    FEMALE = "2", _("Female")


class Category(models.TextChoices):
    FULL = "full", _("Full member")
    PROBATIONARY = "probationary", _("Probationary member")


class Standing(models.TextChoices):
    NORMAL = "normal", _("Normal")
    SUSPENDED = "suspended", _("Suspended")


class Status(models.TextChoices):
    ACTIVE = rules.ACTIVE, _("Active member")
    CANCELLED = "cancelled", _("Probation cancelled")
    TRANSFERRED_OUT = "transferred_out", _("Transferred out")
    DECEASED = "deceased", _("Deceased")
    REMOVED = "removed", _("Removed")
    EXPELLED = "expelled", _("Expelled")
    LEFT = "left", _("Left the Party")


class EventKind(models.TextChoices):
    ADMITTED = rules.ADMITTED, _("Admitted as probationary member")
    BECAME_FULL = rules.BECAME_FULL, _("Became full member")
    PROBATION_EXTENDED = rules.PROBATION_EXTENDED, _("Probation extended")
    QUALIFICATION_CANCELLED = (
        rules.QUALIFICATION_CANCELLED,
        _("Probationary qualification cancelled"),
    )
    TRANSFERRED_IN = rules.TRANSFERRED_IN, _("Transferred in")
    TRANSFERRED_OUT = rules.TRANSFERRED_OUT, _("Transferred out")
    TRANSFERRED = rules.TRANSFERRED, _("Transferred within the platform")
    SUSPENDED = rules.SUSPENDED, _("Party standing suspended")
    RESTORED = rules.RESTORED, _("Party standing restored")
    PARTY_PROBATION = rules.PARTY_PROBATION, _("Put on Party probation")
    PARTY_PROBATION_ENDED = rules.PARTY_PROBATION_ENDED, _("Party probation ended")
    LOST_CONTACT = rules.LOST_CONTACT, _("Out of contact")
    REGAINED_CONTACT = rules.REGAINED_CONTACT, _("Back in contact")
    MOBILE_OUT = rules.MOBILE_OUT, _("Left as mobile member")
    MOBILE_BACK = rules.MOBILE_BACK, _("Mobile member returned")
    DECEASED = rules.DECEASED, _("Deceased")
    REMOVED = rules.REMOVED, _("Removed from the Party")
    EXPELLED = rules.EXPELLED, _("Expelled")
    LEFT = rules.LEFT, _("Left the Party")


class Member(models.Model):
    """A Party member (党员)."""

    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="members",
        verbose_name=_("organisation"),
        db_index=False,  # served by the (organization, name) index
    )
    # Copy of organization.path so subtree scans need no join; kept in step by the services that
    # move members or organisations.
    org_path = models.CharField(max_length=255, editable=False)
    name = models.CharField(_("person's name"), max_length=64)
    name_initials = models.CharField(max_length=32, blank=True)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices)
    ethnicity = models.CharField(
        _("ethnicity"), max_length=2, default=codes.HAN, choices=codes.choices("ethnicity")
    )
    birth_date = models.DateField(_("birth date"))
    id_number_encrypted = models.TextField(editable=False)
    id_number_hash = models.CharField(max_length=64, editable=False)
    phone_encrypted = models.TextField(blank=True, default="", editable=False)
    phone_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    education = models.CharField(
        _("education"), max_length=2, blank=True, choices=codes.choices("education")
    )
    degree = models.CharField(_("degree"), max_length=32, blank=True)
    school = models.CharField(_("school and major"), max_length=128, blank=True)
    native_place = models.CharField(_("native place"), max_length=64, blank=True)
    work_started_on = models.DateField(_("date of starting work"), null=True, blank=True)
    job_category = models.CharField(
        _("job category"), max_length=2, blank=True, choices=codes.choices("job_category")
    )
    work_unit = models.CharField(_("work unit and post"), max_length=128, blank=True)
    title = models.CharField(_("professional title"), max_length=64, blank=True)
    party_post = models.CharField(_("post in the Party"), max_length=64, blank=True)
    telephone = models.CharField(_("landline"), max_length=32, blank=True)
    home_address = models.CharField(_("home address"), max_length=255, blank=True)
    photo = models.ImageField(_("photo"), upload_to="members/photos/", blank=True)
    note = models.TextField(_("note"), blank=True)

    # Derived from the timeline (rules.derive); services keep them in step.
    status = models.CharField(
        _("membership status"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    standing = models.CharField(
        _("Party standing"), max_length=16, choices=Standing.choices, default=Standing.NORMAL
    )
    joined_on = models.DateField(_("date of joining"))
    full_on = models.DateField(_("date of becoming full member"), null=True, blank=True)
    out_of_contact = models.BooleanField(_("out of contact"), default=False)
    out_of_contact_since = models.DateField(_("out of contact since"), null=True, blank=True)
    mobile = models.BooleanField(_("mobile member"), default=False)
    mobile_destination = models.CharField(_("mobile to"), max_length=128, blank=True)
    # 留党察看: a disciplined member keeps membership but may not vote, elect or be elected.
    party_probation = models.BooleanField(_("under Party probation"), default=False)
    user = models.OneToOneField(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="member"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        indexes = [
            models.Index(fields=["org_path", "category"], name="member_org_path_category"),
            models.Index(fields=["organization", "name"], name="member_org_name"),
            models.Index(
                fields=["name"], name="member_name_like", opclasses=["varchar_pattern_ops"]
            ),
            models.Index(
                fields=["name_initials"],
                name="member_initials_like",
                opclasses=["varchar_pattern_ops"],
            ),
            # The list's default order (org_path, name, id), with status (every list filters on
            # it) as a last key column: the first pages of a large subtree stop after 50 rows,
            # and deep pages and capped counts are index-only scans (members.paging).
            models.Index(fields=["org_path", "name", "id", "status"], name="member_list_order"),
            # Hashes are looked up by equality only: plain indexes (a unique=True or db_index
            # field would get a second, pattern-matching index on PostgreSQL for nothing).
            models.Index(fields=["phone_hash"], name="member_phone_hash"),
            # The out-of-contact list of a subtree (transfers.selectors.out_of_contact): a few
            # members among many, so only theirs are indexed.
            models.Index(
                fields=["org_path", "out_of_contact_since"],
                condition=Q(out_of_contact=True, status="active"),
                name="member_out_of_contact",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["id_number_hash"], name="member_id_number_unique")
        ]

    def __str__(self) -> str:
        return self.name


class StandingEvent(models.Model):
    """One dated step of a member's Party standing. Written by services only; never edited."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("event"), max_length=32, choices=EventKind.choices)
    occurred_on = models.DateField(_("date"))
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("organisation"),
    )
    detail = models.CharField(_("details"), max_length=255, blank=True)
    reference = models.CharField(_("document number"), max_length=64, blank=True)
    created_by = models.ForeignKey(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_on", "id"]
        indexes = [models.Index(fields=["member", "occurred_on"], name="event_member_date")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.occurred_on}"

    def as_rule(self) -> rules.Event:
        return rules.Event(
            kind=self.kind,
            on=self.occurred_on,
            organization_id=self.organization_id,
            seq=self.pk or 0,
            detail=self.detail,
        )


class FamilyMember(models.Model):
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="family")
    relation = models.CharField(_("relation"), max_length=16)
    name = models.CharField(_("person's name"), max_length=64)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    political_status = models.CharField(_("political status"), max_length=32, blank=True)
    work_unit = models.CharField(_("work unit and post"), max_length=128, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.relation} {self.name}"


class HistoryKind(models.TextChoices):
    EDUCATION = "education", _("Education history")
    WORK = "work", _("Work history")


class HistoryEntry(models.Model):
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="history")
    kind = models.CharField(_("kind"), max_length=16, choices=HistoryKind.choices)
    started_on = models.DateField(_("from"))
    ended_on = models.DateField(_("to"), null=True, blank=True)
    place = models.CharField(_("school or work unit"), max_length=128)
    role = models.CharField(_("major or post"), max_length=128, blank=True)

    class Meta:
        ordering = ["started_on", "id"]

    def __str__(self) -> str:
        return f"{self.started_on} {self.place}"


class RecordKind(models.TextChoices):
    REWARD = "reward", _("Reward")
    DISCIPLINE = "discipline", _("Discipline")


class RewardDiscipline(models.Model):
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="rewards")
    kind = models.CharField(_("kind"), max_length=16, choices=RecordKind.choices)
    decided_on = models.DateField(_("date"))
    title = models.CharField(_("title"), max_length=128)
    issuer = models.CharField(_("decided by"), max_length=128, blank=True)
    reference = models.CharField(_("document number"), max_length=64, blank=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        ordering = ["decided_on", "id"]

    def __str__(self) -> str:
        return self.title


class MemberDocument(models.Model):
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="documents")
    title = models.CharField(_("title"), max_length=128)
    file = models.FileField(_("file"), upload_to="members/documents/%Y/")
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]

    def __str__(self) -> str:
        return self.title


from .models_import import ImportStatus, MemberImport  # noqa: E402, F401 - member import
