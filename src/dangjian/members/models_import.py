"""An uploaded roster waiting to be imported: the stored file, the column mapping the user
confirmed, the result of the last check (counts and the rows with problems) and the job that
writes it. Seen only by the account that uploaded it (and only while it may still change members
of the target organisation)."""

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from dangjian.core.models import Job, Organization, User


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Uploaded")
    PREVIEWED = "previewed", _("Checked")
    COMMITTING = "committing", _("Importing")
    DONE = "done", _("Imported")
    FAILED = "failed", _("Failed")


class MemberImport(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="member_imports")
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("organisation"),
    )
    org_path = models.CharField(max_length=255, editable=False)
    file = models.FileField(upload_to="imports/%Y/%m/")
    original_name = models.CharField(max_length=255)
    file_format = models.CharField(max_length=8)
    header_line = models.PositiveIntegerField(default=1)
    headers = models.JSONField(default=list)
    mapping = models.JSONField(default=list)
    update = models.BooleanField(default=False)
    status = models.CharField(
        max_length=12, choices=ImportStatus.choices, default=ImportStatus.UPLOADED
    )
    row_count = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)
    job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("member import")
        indexes = [models.Index(fields=["user", "created_at"], name="member_import_user")]

    def __str__(self) -> str:
        return self.original_name

    def read_table(self):
        from .importing import read_table

        with self.file.open("rb") as handle:
            data = handle.read()
        return read_table(data, self.original_name)
