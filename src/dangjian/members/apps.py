from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembersConfig(AppConfig):
    name = "dangjian.members"
    label = "members"
    verbose_name = _("Members")

    def ready(self):
        from . import (
            exporting,  # noqa: F401 - registers the member_export job kind
            importing,  # noqa: F401 - registers the member_import job kind
        )
