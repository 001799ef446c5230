from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MeetingsConfig(AppConfig):
    name = "dangjian.meetings"
    label = "meetings"
    verbose_name = _("Organisational life")

    def ready(self):
        from dangjian.core import services as core_services

        # Moving an organisation rewrites the copies of its path.
        for label in ("meetings.Meeting", "meetings.MonthTally"):
            if (label, "org_path") not in core_services.PATH_COPIES:
                core_services.PATH_COPIES.append((label, "org_path"))
