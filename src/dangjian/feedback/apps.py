from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FeedbackConfig(AppConfig):
    name = "dangjian.feedback"
    label = "feedback"
    verbose_name = _("Requests from the public")

    def ready(self):
        from dangjian.core import crypto, sweeps
        from dangjian.core import services as core_services

        # Moving an organisation rewrites the copy of its path on the requests it owns.
        if ("feedback.PublicRequest", "org_path") not in core_services.PATH_COPIES:
            core_services.PATH_COPIES.append(("feedback.PublicRequest", "org_path"))
        # Submitters' names, phones and e-mails are sealed: key rotation re-encrypts them.
        if not any(label == "feedback.PublicRequest" for label, _pairs in crypto.SEALED):
            crypto.SEALED.append(
                (
                    "feedback.PublicRequest",
                    [
                        ("name_encrypted", None),
                        ("phone_encrypted", "phone_hash"),
                        ("email_encrypted", None),
                    ],
                )
            )
        if "dangjian.feedback.sweep.sweep_deadlines" not in sweeps.SWEEPS:
            sweeps.SWEEPS.append("dangjian.feedback.sweep.sweep_deadlines")
