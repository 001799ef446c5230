"""Member records (党员档案). This is the first cut the foundation needs (seeding, counts, scope);
the full national record, timeline and history tables come with the member-records work."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from dangjian.core.models import Organization


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


class Member(models.Model):
    """A Party member (党员)."""

    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="members",
        verbose_name=_("organisation"),
    )
    # Copy of organization.path so subtree scans need no join; kept in step by the services that
    # move members or organisations.
    org_path = models.CharField(max_length=255, editable=False)
    name = models.CharField(_("name"), max_length=64)
    name_initials = models.CharField(max_length=32, blank=True, db_index=True)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices)
    ethnicity = models.CharField(_("ethnicity"), max_length=2, default="01")
    birth_date = models.DateField(_("birth date"))
    id_number_encrypted = models.TextField(editable=False)
    id_number_hash = models.CharField(max_length=64, unique=True, editable=False)
    phone_encrypted = models.TextField(blank=True, default="", editable=False)
    phone_hash = models.CharField(
        max_length=64, blank=True, default="", db_index=True, editable=False
    )
    education = models.CharField(_("education"), max_length=2, blank=True)
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    standing = models.CharField(
        _("Party standing"), max_length=16, choices=Standing.choices, default=Standing.NORMAL
    )
    joined_on = models.DateField(_("date of joining"))
    full_on = models.DateField(_("date of becoming full member"), null=True, blank=True)
    user = models.OneToOneField(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="member"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        indexes = [
            models.Index(
                fields=["org_path"], name="member_org_path_like", opclasses=["varchar_pattern_ops"]
            ),
            models.Index(fields=["org_path", "category"], name="member_org_path_category"),
            models.Index(fields=["organization", "name"], name="member_org_name"),
        ]

    def __str__(self) -> str:
        return self.name
