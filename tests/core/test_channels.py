"""Outgoing channels (core.channels) against real servers on local ports: an SMTP server (aiosmtpd)
and an HTTP gateway (http.server). Nothing of the sending code is replaced."""

import email
import email.policy
import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from django.db import transaction

from dangjian.core import channels

PHONE = "13812345678"
SUBJECT = "您反映的问题已答复"
BODY = "您于5月3日反映的道路积水问题，村党支部已答复：本周内疏通排水沟。"


def free_port() -> int:
    """A port nobody listens on (the moment it is returned)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# A real SMTP server ----------------------------------------------------------------------------


class Inbox:
    """aiosmtpd handler keeping what arrives."""

    def __init__(self):
        self.received: list[tuple[str, list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(settings):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    # pytest-django puts the local-memory backend in place for tests: send for real.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.DEFAULT_FROM_EMAIL = "dangjian@example.org"
    yield inbox
    controller.stop()


def test_an_email_arrives_with_its_chinese_subject_and_body(smtp):
    assert channels.send_email(to="zhang@example.org", subject=SUBJECT, body=BODY) is True
    [(sender, recipients, message)] = smtp.received
    assert sender == "dangjian@example.org"
    assert recipients == ["zhang@example.org"]
    assert message["To"] == "zhang@example.org"
    assert message["Subject"] == SUBJECT
    assert message.get_content_charset() == "utf-8"
    assert message.get_content().strip() == BODY


def test_an_email_to_a_server_that_is_down_is_false_and_logged(settings, caplog):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()
    assert channels.send_email(to="zhang@example.org", subject=SUBJECT, body=BODY) is False
    assert "not sent" in caplog.text
    assert "zhang@example.org" not in caplog.text


def test_no_email_without_a_host(smtp, settings):
    settings.EMAIL_HOST = ""
    assert channels.send_email(to="zhang@example.org", subject=SUBJECT, body=BODY) is False
    assert smtp.received == []


def test_no_email_to_an_empty_address(smtp):
    assert channels.send_email(to=" ", subject=SUBJECT, body=BODY) is False
    assert smtp.received == []


# A real HTTP gateway ---------------------------------------------------------------------------


class Gateway(ThreadingHTTPServer):
    """Records each request; answers with `status` after `delay` seconds."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _GatewayHandler)
        self.requests: list[dict] = []
        self.status = 200
        self.delay = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/sms/send"


class _GatewayHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.server.requests.append(
            {
                "method": self.command,
                "path": self.path,
                "headers": dict(self.headers),
                "body": self.rfile.read(length),
            }
        )
        time.sleep(self.server.delay)
        try:
            self.send_response(self.server.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}')
        except OSError:  # the client gave up waiting
            pass

    def log_message(self, format, *args):
        pass


@pytest.fixture
def gateway(settings):
    server = Gateway()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    settings.SMS_URL = server.url
    settings.SMS_TOKEN = "s3cret-token"
    settings.SMS_SIGNATURE = "【某某县委】"
    settings.SMS_TIMEOUT = 5
    yield server
    server.shutdown()
    server.server_close()


def test_a_text_is_posted_as_json_with_token_and_signature(gateway):
    assert channels.send_sms(phone=PHONE, text=BODY) is True
    [request] = gateway.requests
    assert request["method"] == "POST"
    assert request["path"] == "/sms/send"
    assert request["headers"]["Authorization"] == "Bearer s3cret-token"
    assert request["headers"]["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(request["body"].decode("utf-8")) == {
        "phone": PHONE,
        "text": "【某某县委】" + BODY,
    }


def test_no_authorization_header_without_a_token(gateway, settings):
    settings.SMS_TOKEN = ""
    assert channels.send_sms(phone=PHONE, text=BODY) is True
    assert "Authorization" not in gateway.requests[0]["headers"]


@pytest.mark.parametrize("status", [201, 204])
def test_any_2xx_answer_is_success(gateway, status):
    gateway.status = status
    assert channels.send_sms(phone=PHONE, text=BODY) is True


@pytest.mark.parametrize("status", [500, 400, 401, 302])
def test_an_answer_other_than_2xx_is_false_and_logged_without_the_number(gateway, caplog, status):
    gateway.status = status
    assert channels.send_sms(phone=PHONE, text=BODY) is False
    assert len(gateway.requests) == 1  # a redirect is not followed
    assert f"HTTP {status}" in caplog.text
    assert "138****5678" in caplog.text
    assert PHONE not in caplog.text
    assert "s3cret-token" not in caplog.text


def test_a_gateway_that_does_not_answer_in_time_is_false(gateway, settings, caplog):
    settings.SMS_TIMEOUT = 0.3
    gateway.delay = 2
    started = time.monotonic()
    assert channels.send_sms(phone=PHONE, text=BODY) is False
    assert time.monotonic() - started < 1.5
    assert "unreachable" in caplog.text
    assert PHONE not in caplog.text


def test_a_gateway_that_is_down_is_false(settings, caplog):
    settings.SMS_URL = f"http://127.0.0.1:{free_port()}/sms"
    assert channels.send_sms(phone=PHONE, text=BODY) is False
    assert "unreachable" in caplog.text


def test_no_text_without_a_gateway_and_no_connection(gateway, settings):
    settings.SMS_URL = ""
    assert channels.send_sms(phone=PHONE, text=BODY) is False
    assert gateway.requests == []


def test_no_text_to_an_empty_number(gateway):
    assert channels.send_sms(phone="", text=BODY) is False
    assert gateway.requests == []


# Only after commit -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_both_go_once_the_transaction_commits(smtp, gateway, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        channels.notify_on_commit(
            email="zhang@example.org", phone=PHONE, subject=SUBJECT, body=BODY
        )
        assert smtp.received == [] and gateway.requests == []
    assert len(callbacks) == 2
    assert smtp.received[0][2]["Subject"] == SUBJECT
    assert json.loads(gateway.requests[0]["body"])["text"] == "【某某县委】" + BODY


@pytest.mark.django_db
def test_nothing_goes_when_the_transaction_rolls_back(
    smtp, gateway, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            channels.notify_on_commit(
                email="zhang@example.org", phone=PHONE, subject=SUBJECT, body=BODY
            )
            raise RuntimeError("the action failed")
    assert callbacks == []
    assert smtp.received == [] and gateway.requests == []


@pytest.mark.django_db
def test_only_the_channels_given_are_used(smtp, gateway, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        channels.notify_on_commit(phone=PHONE, subject=SUBJECT, body=BODY)
    assert smtp.received == [] and len(gateway.requests) == 1


@pytest.mark.django_db
def test_a_channel_that_fails_does_not_fail_the_commit(
    settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()
    settings.SMS_URL = f"http://127.0.0.1:{free_port()}/sms"
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        channels.notify_on_commit(
            email="zhang@example.org", phone=PHONE, subject=SUBJECT, body=BODY
        )
    assert len(callbacks) == 2


# The gateway's address is checked at start -----------------------------------------------------


def start_settings(tmp_path, sms_url: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DANGJIAN_")}
    env.update(DANGJIAN_DATA_DIR=str(tmp_path), DANGJIAN_SMS_URL=sms_url)
    code = "import dangjian.settings as s; print(s.SMS_URL)"
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "value", ["ftp://x", "sms.example.org/send", "http://", "http://gw:port/send", "http://[::1"]
)
def test_a_gateway_address_that_is_not_http_stops_the_start(tmp_path, value):
    result = start_settings(tmp_path, value)
    assert result.returncode != 0
    assert "SettingError: DANGJIAN_SMS_URL=" in result.stderr
    assert "http:// or https://" in result.stderr


def test_an_https_gateway_address_is_accepted(tmp_path):
    result = start_settings(tmp_path, "https://sms.example.org:8443/send")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "https://sms.example.org:8443/send"
