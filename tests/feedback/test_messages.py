"""The person who submitted a request hears of its answer by e-mail and SMS (real local servers,
as in tests/core/test_channels.py), only with consent, and only once the change commits."""

import json

import pytest
from django.utils import translation

from dangjian.feedback import messages, services
from dangjian.feedback.models import Status


def sms_texts(server) -> list[str]:
    return [json.loads(r["body"].decode())["text"] for r in server.requests]


def test_the_answer_reaches_the_person_by_mail_and_text(
    submit,
    people,
    smtp,
    gateway,
    django_capture_on_commit_callbacks,
):
    req, _code = submit(phone="13812345678", email="wang@example.cn", consent_contact=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.answer(actor=people["alice"], req=req, reply="路灯今天下午修好。")
    [(_sender, to, mail)] = smtp.received
    assert to == ["wang@example.cn"] and req.number in mail["Subject"]
    assert "路灯今天下午修好。" in mail.get_content()
    [text] = sms_texts(gateway)
    assert req.number in text and "路灯今天下午修好。" in text
    assert json.loads(gateway.requests[0]["body"].decode())["phone"] == "13812345678"


def test_nobody_is_contacted_without_consent(
    submit,
    people,
    smtp,
    gateway,
    django_capture_on_commit_callbacks,
):
    req, _code = submit(phone="13812345678", email="wang@example.cn", consent_contact=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.answer(actor=people["alice"], req=req, reply="已处理")
    assert smtp.received == [] and gateway.requests == []


def test_a_landline_gets_no_text(submit, people, gateway, django_capture_on_commit_callbacks):
    req, _code = submit(phone="0371-12345678", consent_contact=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.answer(actor=people["alice"], req=req, reply="已处理")
    assert gateway.requests == []


@pytest.mark.parametrize(
    ("status", "said"),
    [(Status.ANSWERED, "已修好"), (Status.REJECTED, "不属于本社区"), (Status.ACCEPTED, "Accepted")],
)
def test_the_texts_say_what_happened_without_personal_data(submit, status, said):
    req, _code = submit(name="王大妈", phone="13812345678")
    req.status, req.public_reply, req.reject_reason = status, "已修好", "不属于本社区"
    with translation.override("en"):
        subject, body = messages.submitter_text(req)
    assert req.number in subject and said in body
    assert "王大妈" not in subject + body and "13812345678" not in subject + body
