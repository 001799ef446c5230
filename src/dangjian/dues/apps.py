from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DuesConfig(AppConfig):
    name = "dangjian.dues"
    label = "dues"
    verbose_name = _("Party dues")

    def ready(self):
        from django.conf import settings

        from dangjian.core.services import PATH_COPIES

        from . import (
            rules,
            signals,  # noqa: F401 - keeps ledgers in step with timelines and stays
            tasks,  # noqa: F401 - registers the dues.generate job kind
        )

        rules.set_rounding(settings.DUES_ROUNDING)
        # Moving an organisation rewrites these copies of its path with the members' own.
        for label in ("dues.LedgerLine", "dues.Payment", "dues.MonthTotal", "dues.Statement"):
            if (label, "org_path") not in PATH_COPIES:
                PATH_COPIES.append((label, "org_path"))
