"""Outgoing channels to people outside the platform: e-mail and text messages (短信).

Used where the person to tell has no account, or is not looking at the platform: a member of the
public whose request (群众诉求) has been answered, and later the readers of published notices.
People with an account are told in the platform first (`core.models.Notification`); these
channels come on top and are best effort: each function returns whether the message was handed
over, and logs instead of raising, because a mail server or gateway being down must never fail
the action that caused the message. Send from `notify_on_commit` inside a service, so nothing goes
out for a change that is rolled back and no network conversation holds a transaction open. Each
call waits for the network (up to EMAIL_TIMEOUT / SMS_TIMEOUT): a fan-out to many people belongs
in a background task, not in a request.

E-mail goes through Django's mail backend (SMTP in production) to DANGJIAN_EMAIL_HOST; off when
no host is set.

Text messages go through an HTTP gateway, an adapter the deployment runs or rents in front of
the operator's SMS service; off when DANGJIAN_SMS_URL is empty. The contract:

    POST <DANGJIAN_SMS_URL>
    Content-Type: application/json; charset=utf-8
    Authorization: Bearer <DANGJIAN_SMS_TOKEN>        (only when a token is set)

    {"phone": "13812345678", "text": "【某某县委】您反映的问题已答复……"}

`text` is DANGJIAN_SMS_SIGNATURE followed by the message, UTF-8, JSON without escapes of Chinese.
Any 2xx answer means the gateway accepted the message (its body is not read for meaning);
anything else, a redirect, a refused connection or no answer within SMS_TIMEOUT (5 s) counts
as not sent. There is no retry here: the gateway queues and retries if it needs to. Logs never
show a full phone number (`crypto.mask_phone`), the token or the gateway's answer body.
"""

import http.client
import json
import logging
import urllib.error
import urllib.request
from functools import partial

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction

from .crypto import mask_email, mask_phone

logger = logging.getLogger(__name__)


def _mask_email(address: str) -> str:
    """Enough to find the case in a log."""
    return mask_email(address) or "***"


def send_email(*, to: str, subject: str, body: str) -> bool:
    """Send one plain-text mail to `to`. True once the mail server accepted it; False (logged)
    when no server is configured, the address is empty, or the server fails."""
    to = to.strip()
    if not settings.EMAIL_HOST:
        logger.info("e-mail to %s not sent: DANGJIAN_EMAIL_HOST is not set", _mask_email(to))
        return False
    if not to:
        return False
    message = EmailMessage(
        subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[to]
    )
    try:
        sent = message.send(fail_silently=False)
    except (OSError, ValueError) as exc:
        # OSError covers smtplib's errors, refused connections and timeouts; ValueError a header
        # Django refuses (a line break in the subject).
        logger.warning("e-mail to %s not sent: %s", _mask_email(to), exc)
        return False
    return bool(sent)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A gateway that redirects is misconfigured: following it would resend the token to
    another address, and urllib would turn the POST into a GET."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def send_sms(*, phone: str, text: str) -> bool:
    """Send one text message through the HTTP gateway (see the module docstring). True when the
    gateway answered 2xx; False (logged) when no gateway is configured, the number is empty, or
    the gateway fails, answers otherwise or does not answer in time."""
    phone = phone.strip()
    url = settings.SMS_URL
    if not url:
        logger.info("text to %s not sent: DANGJIAN_SMS_URL is not set", mask_phone(phone))
        return False
    if not phone:
        return False
    payload = {"phone": phone, "text": settings.SMS_SIGNATURE + text}
    headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
    if settings.SMS_TOKEN:
        headers["Authorization"] = f"Bearer {settings.SMS_TOKEN}"
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked in settings
        url,
        data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        headers=headers,
        method="POST",
    )
    try:
        with _opener.open(request, timeout=settings.SMS_TIMEOUT) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        status = exc.code
    except (OSError, http.client.HTTPException, ValueError) as exc:
        # URLError, refused connections and timeouts are OSErrors; HTTPException a garbled answer.
        logger.warning("text to %s not sent: gateway unreachable (%s)", mask_phone(phone), exc)
        return False
    if 200 <= status < 300:
        return True
    logger.warning("text to %s not sent: gateway answered HTTP %s", mask_phone(phone), status)
    return False


def notify_on_commit(
    *, email: str | None = None, phone: str | None = None, subject: str, body: str
) -> None:
    """Once the current transaction commits, mail `subject` and `body` to `email` and text `body`
    to `phone` (whichever are given). Nothing is sent if the transaction rolls back; outside a
    transaction both go at once."""
    if email:
        transaction.on_commit(partial(send_email, to=email, subject=subject, body=body))
    if phone:
        transaction.on_commit(partial(send_sms, phone=phone, text=body))
