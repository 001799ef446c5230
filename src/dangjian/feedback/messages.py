"""Who hears of a request: the handlers of its organisation in the platform (the bell), the
committee above when it is overdue, and the person who submitted it by e-mail or SMS where they
left an address and agreed to be contacted (the status page always shows everything)."""

from django.urls import reverse
from django.utils.translation import gettext as _

from dangjian.core import channels, crypto, notify

from .models import PublicRequest, Status


def _staff_url(req: PublicRequest) -> str:
    return reverse("feedback:detail", args=[req.pk])


def _handlers(org) -> set[int]:
    return notify.people_with("feedback.handle", [org.path])


def request_arrived(req: PublicRequest) -> int:
    return notify.send_once(
        _handlers(req.organization),
        kind="feedback",
        key=f"feedback:{req.pk}:arrived:{req.org_path}",
        title=_("New request %(number)s: %(summary)s")
        % {"number": req.number, "summary": req.summary},
        url=_staff_url(req),
    )


def request_forwarded(req: PublicRequest, actor) -> int:
    return notify.send_once(
        notify.people_with(
            "feedback.handle", [req.org_path], exclude_user_id=getattr(actor, "pk", None)
        ),
        kind="feedback",
        key=f"feedback:{req.pk}:arrived:{req.org_path}",
        title=_("Request %(number)s was forwarded to you: %(summary)s")
        % {"number": req.number, "summary": req.summary},
        url=_staff_url(req),
    )


def information_added(req: PublicRequest) -> int:
    count = req.entries.count()
    return notify.send_once(
        _handlers(req.organization),
        kind="feedback",
        key=f"feedback:{req.pk}:added:{count}",
        title=_("The person added to request %(number)s") % {"number": req.number},
        url=_staff_url(req),
    )


def request_reopened(req: PublicRequest) -> int:
    return notify.send_once(
        _handlers(req.organization),
        kind="feedback",
        key=f"feedback:{req.pk}:reopened:{req.reopened}",
        title=_("Request %(number)s was reopened: the person is not satisfied")
        % {"number": req.number},
        url=_staff_url(req),
    )


def request_escalated(req: PublicRequest, parent) -> int:
    told = notify.send_once(
        _handlers(req.organization),
        kind="feedback",
        key=f"feedback:{req.pk}:overdue:{req.answer_due_at:%Y%m%d}",
        title=_("Request %(number)s is overdue") % {"number": req.number},
        url=_staff_url(req),
    )
    if parent is not None:
        told += notify.send_once(
            _handlers(parent),
            kind="feedback",
            key=f"feedback:{req.pk}:escalated:{req.answer_due_at:%Y%m%d}",
            title=_("Overdue at %(org)s: request %(number)s")
            % {"org": req.organization.name, "number": req.number},
            url=_staff_url(req),
        )
    return told


def request_due_soon(req: PublicRequest) -> int:
    return notify.send_once(
        _handlers(req.organization),
        kind="feedback",
        key=f"feedback:{req.pk}:soon:{req.answer_due_at:%Y%m%d}",
        title=_("Request %(number)s is due within a day") % {"number": req.number},
        url=_staff_url(req),
    )


def submitter_text(req: PublicRequest, number: str | None = None) -> tuple[str, str]:
    """Subject and text telling the person what happened to `req`; `number` is theirs when
    their request was merged into it. No personal data in it."""
    number = number or req.number
    status = req.get_status_display()
    subject = _("Your request %(number)s: %(status)s") % {"number": number, "status": status}
    if req.status == Status.ANSWERED:
        body = _("%(org)s answered your request %(number)s: %(reply)s") % {
            "org": req.replied_by or req.organization.name,
            "number": number,
            "reply": req.public_reply[:300],
        }
    elif req.status == Status.REJECTED:
        body = _("Your request %(number)s was not taken up: %(reason)s") % {
            "number": number,
            "reason": req.reject_reason[:300],
        }
    else:
        body = _("Your request %(number)s is now: %(status)s.") % {
            "number": number,
            "status": status,
        }
    body += " " + _("See it with your tracking number and check code on the request desk.")
    return subject, body


def tell_submitter(req: PublicRequest, *, about: PublicRequest | None = None) -> bool:
    """E-mail and SMS on commit, when the person agreed and left an address. `about`: a request
    merged into `req`, whose person hears what happened to `req`."""
    person = about or req
    if not person.consent_contact:
        return False
    email = crypto.decrypt(person.email_encrypted) if person.email_encrypted else None
    phone = crypto.decrypt(person.phone_encrypted) if person.phone_encrypted else None
    from .services import is_mobile

    phone = phone if phone and is_mobile(phone) else None
    if not (email or phone):
        return False
    subject, body = submitter_text(req, person.number)
    channels.notify_on_commit(email=email, phone=phone, subject=subject, body=body)
    return True
