from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FeedbackConfig(AppConfig):
    name = "dangjian.feedback"
    label = "feedback"
    verbose_name = _("Requests from the public")

    def ready(self):
        from dangjian.core import services as core_services
        from dangjian.core import sweeps

        # Moving an organisation rewrites the copy of its path on the requests it owns.
        if ("feedback.PublicRequest", "org_path") not in core_services.PATH_COPIES:
            core_services.PATH_COPIES.append(("feedback.PublicRequest", "org_path"))
        if "dangjian.feedback.sweep.sweep_deadlines" not in sweeps.SWEEPS:
            sweeps.SWEEPS.append("dangjian.feedback.sweep.sweep_deadlines")
