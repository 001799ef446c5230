"""Reminders to members behind: one notification per member and month owed, whoever asks how
often; an e-mail too where an SMTP host is configured, delivered here to a real SMTP server
listening on a local port (a small receiver written for the test: no extra dependency)."""

import datetime
import email
import email.policy
import socket
import socketserver
import threading

import pytest
from django.utils import translation

from dangjian.core import services as core_services
from dangjian.core.errors import ValidationFailed
from dangjian.core.models import AuditEvent, Notification
from dangjian.dues import ledger, notices, services

pytestmark = pytest.mark.django_db

YEAR = 2026
D = datetime.date


class _Session(socketserver.StreamRequestHandler):
    """Just enough of SMTP (RFC 5321) for smtplib: greeting, EHLO/HELO, MAIL, RCPT, DATA with
    dot-unstuffing, RSET, NOOP, QUIT."""

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode("ascii") + b"\r\n")

    def handle(self):
        self.reply("220 localhost test SMTP")
        sender, recipients = None, []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line.decode("ascii", "replace").strip()
            upper = verb.upper()
            if upper.startswith("EHLO"):
                self.reply("250-localhost")
                self.reply("250 8BITMIME")
            elif upper.startswith("HELO"):
                self.reply("250 localhost")
            elif upper.startswith("MAIL FROM:"):
                sender, recipients = verb[10:].strip().split()[0].strip("<>"), []
                self.reply("250 OK")
            elif upper.startswith("RCPT TO:"):
                recipients.append(verb[8:].strip().split()[0].strip("<>"))
                self.reply("250 OK")
            elif upper == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                body = []
                while True:
                    chunk = self.rfile.readline()
                    if chunk in (b".\r\n", b".\n", b""):
                        break
                    body.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                self.server.received.append((sender, recipients, b"".join(body)))
                self.reply("250 OK: queued")
            elif upper in ("RSET", "NOOP"):
                self.reply("250 OK")
            elif upper == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")


class SMTPReceiver(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Session)
        self.received: list = []

    @property
    def port(self) -> int:
        return self.server_address[1]


@pytest.fixture
def smtp_server():
    server = SMTPReceiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(10)


@pytest.fixture
def smtp(settings, smtp_server):
    """Dues reminders go by e-mail: the SMTP backend, pointed at the local receiver."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.DEFAULT_FROM_EMAIL = "dangjian@example.org"
    return smtp_server


@pytest.fixture
def accounts(roster, make_user, admin, tree):
    """张三, 王五 and 李四 have accounts (张三 and 王五 with e-mail addresses); 2026 ledger of
    branch A: 张三 15.00, 王五 50.00 a month, 李四 no base; 王五 has paid October."""
    users = {}
    for name, address in [("zhang", "zhang@example.org"), ("wang", "wang@example.org"), ("li", "")]:
        user = make_user(f"u_{name}", email=address)
        core_services.assign_role(actor=admin, user=user, org=tree["branch_a"], role="member")
        member = roster[name]
        member.user = user
        member.save(update_fields=["user"])
        users[name] = user
    for name, base in [("zhang", "3000"), ("wang", "5000")]:
        services.declare_base(
            actor=admin, member=roster[name], year=YEAR, category="in_service", base=base
        )
    ledger.generate(YEAR, tree["branch_a"])
    services.record_payment(
        actor=admin,
        member=roster["wang"],
        months=[(YEAR, 10)],
        paid_on=D(2026, 10, 20),
        method="cash",
    )
    return users


def notified(user) -> list[str]:
    return list(Notification.objects.filter(user=user).order_by("id").values_list("key", flat=True))


def test_those_behind_are_reminded_once_per_month(accounts, roster, tree, settings):
    settings.EMAIL_HOST = ""
    a = tree["branch_a"]
    assert notices.remind_unpaid(a, YEAR, 10) == 1
    key = f"dues:2026-10:{roster['zhang'].pk}"
    assert notified(accounts["zhang"]) == [key]
    assert notified(accounts["wang"]) == []  # paid
    assert notified(accounts["li"]) == []  # nothing asked of him: no base
    note = Notification.objects.get(user=accounts["zhang"])
    assert note.kind == "dues" and "15.00" in note.title and note.url.endswith("/dues/mine/")
    # Again, and again: nobody is told twice about the same month.
    assert notices.remind_unpaid(a, YEAR, 10) == 0
    assert notices.remind_unpaid(a, YEAR, 10) == 0
    assert Notification.objects.count() == 1
    # Another month is another reminder; and 王五 is behind for September.
    assert notices.remind_unpaid(a, YEAR, 9) == 2
    assert notified(accounts["zhang"]) == [key, f"dues:2026-09:{roster['zhang'].pk}"]


def test_a_month_paid_in_part_reminds_of_the_rest(accounts, roster, tree, admin, settings):
    settings.EMAIL_HOST = ""
    services.record_payment(
        actor=admin,
        member=roster["zhang"],
        months=[(YEAR, 8)],
        paid_on=D(2026, 8, 20),
        method="cash",
        amount="5",
    )
    notices.remind_unpaid(tree["branch_a"], YEAR, 8)
    assert (
        "10.00" in Notification.objects.get(user=accounts["zhang"], key__contains="2026-08").title
    )


def test_an_inactive_account_is_not_reminded(accounts, tree, settings):
    settings.EMAIL_HOST = ""
    accounts["zhang"].is_active = False
    accounts["zhang"].save(update_fields=["is_active"])
    assert notices.remind_unpaid(tree["branch_a"], YEAR, 10) == 0


def test_the_service_reminds_and_is_audited(accounts, people, tree, settings):
    settings.EMAIL_HOST = ""
    sent = services.remind_behind(actor=people["alice"], org=tree["branch_a"], year=YEAR, month=10)
    assert sent == 1
    event = AuditEvent.objects.get(action="dues.remind")
    assert event.after == {"year": YEAR, "month": 10, "sent": 1}
    assert (
        services.remind_behind(actor=people["alice"], org=tree["branch_a"], year=YEAR, month=10)
        == 0
    )


def test_reminders_go_by_email_through_a_real_smtp_server(
    accounts, roster, tree, smtp, django_capture_on_commit_callbacks
):
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        assert notices.remind_unpaid(tree["branch_a"], YEAR, 9) == 2
    assert sorted(to for _frm, rcpt, _b in smtp.received for to in rcpt) == [
        "wang@example.org",
        "zhang@example.org",
    ]
    by_to = {
        rcpt[0]: email.message_from_bytes(body, policy=email.policy.default)
        for _f, rcpt, body in smtp.received
    }
    mail = by_to["zhang@example.org"]
    assert smtp.received[0][0] == "dangjian@example.org"
    assert mail["To"] == "zhang@example.org"
    assert mail["Subject"] == "Party dues reminder"
    assert "2026-09" in mail.get_content() and "15.00" in mail.get_content()
    assert "50.00" in by_to["wang@example.org"].get_content()
    # The same month again: no notification, no mail.
    with django_capture_on_commit_callbacks(execute=True):
        assert notices.remind_unpaid(tree["branch_a"], YEAR, 9) == 0
    assert len(smtp.received) == 2
    # 李四 (no address) and members without an account get no mail, and no error.
    assert Notification.objects.filter(user=accounts["li"]).count() == 0


def test_no_mail_without_an_smtp_host(accounts, tree, settings, mailoutbox):
    settings.EMAIL_HOST = ""
    assert notices.remind_unpaid(tree["branch_a"], YEAR, 10) == 1
    assert mailoutbox == []


def test_a_mail_server_that_is_down_loses_no_reminder(
    accounts, tree, settings, caplog, django_capture_on_commit_callbacks
):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    with django_capture_on_commit_callbacks(execute=True):
        assert notices.remind_unpaid(tree["branch_a"], YEAR, 10) == 1
    assert Notification.objects.filter(user=accounts["zhang"]).count() == 1
    assert "could not be sent" in caplog.text


def test_a_month_not_begun_is_not_reminded(accounts, people, tree, settings):
    settings.EMAIL_HOST = ""
    today = services.today()
    ahead = datetime.date(today.year, today.month, 28) + datetime.timedelta(days=7)
    with pytest.raises(ValidationFailed) as caught:
        services.remind_behind(
            actor=people["alice"], org=tree["branch_a"], year=ahead.year, month=ahead.month
        )
    assert (caught.value.code, caught.value.field) == ("month_not_begun", "month")
    assert not Notification.objects.exists()
    assert not AuditEvent.objects.filter(action="dues.remind").exists()
    # This month has begun.
    services.remind_behind(
        actor=people["alice"], org=tree["branch_a"], year=today.year, month=today.month
    )


def test_mail_goes_only_once_the_reminders_are_committed(
    accounts, tree, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.EMAIL_HOST = "mail.example.org"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert notices.remind_unpaid(tree["branch_a"], YEAR, 9) == 2
    assert mailoutbox == []  # not inside the transaction (it might yet roll back)
    assert len(callbacks) == 1
    callbacks[0]()
    assert sorted(m.to[0] for m in mailoutbox) == ["wang@example.org", "zhang@example.org"]


def test_mail_goes_only_for_reminders_this_call_inserted(
    accounts, roster, tree, settings, mailoutbox, monkeypatch, django_capture_on_commit_callbacks
):
    """Two secretaries press the button at once: both read that nobody was told yet; the other
    request inserts 张三's reminder first. This one inserts (and mails) 王五's alone."""
    settings.EMAIL_HOST = "mail.example.org"
    insert = notices._insert_new

    def other_request_first(rows):
        Notification.objects.create(
            user=accounts["zhang"], kind="dues", key=f"dues:2026-09:{roster['zhang'].pk}", title="x"
        )
        return insert(rows)

    monkeypatch.setattr(notices, "_insert_new", other_request_first)
    with django_capture_on_commit_callbacks(execute=True):
        assert notices.remind_unpaid(tree["branch_a"], YEAR, 9) == 1
    assert [m.to for m in mailoutbox] == [["wang@example.org"]]
    assert Notification.objects.filter(user=accounts["zhang"]).count() == 1
