"""A person sends a request from the QR poster of a desk on a phone, in a real browser, writes
down the tracking number and check code, and follows the request with them."""

import contextlib

import pytest
from django.core.cache import caches
from playwright.sync_api import expect

from tests.captchas import answer_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = "东街小区3号楼门口的路灯坏了好几天，晚上出行很不方便。"


@contextlib.contextmanager
def server_cache():
    """The live server's threads use the cache without the per-test key prefix of the test
    thread (tests/conftest.py): read the CAPTCHA's answer as they stored it."""
    cache = caches["default"]
    mine = cache.key_prefix
    cache.key_prefix = caches.create_connection("default").key_prefix
    try:
        yield
    finally:
        cache.key_prefix = mine


def test_a_request_from_the_qr_poster_on_a_phone(live_server, phone, tree, people, admin):
    from dangjian.feedback import services
    from dangjian.feedback.models import PublicRequest

    services.save_desk(actor=admin, organization=tree["branch_a"], code="dongjie", place="东街社区")

    errors = []
    phone.on("pageerror", lambda exc: errors.append(str(exc)))
    base = live_server.url
    phone.goto(f"{base}/desk/new/?at=dongjie")
    expect(phone.get_by_test_id("fixed-place")).to_contain_text("东街社区")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    phone.locator("label[for=cat-help]").click()
    expect(phone.get_by_test_id("category-help")).to_be_checked()
    phone.locator("#id_text").fill(TEXT)
    expect(phone.locator("[data-count-of=id_text]")).to_have_text(str(len(TEXT)))
    phone.locator("#id_name").fill("王大妈")
    token = phone.locator("input[name=captcha_token]").input_value()
    with server_cache():
        answer = answer_for(token)
    assert answer
    phone.locator("#id_captcha_answer").fill(answer.lower())
    phone.get_by_test_id("send").click()
    phone.wait_for_url(f"{base}/desk/done/")

    number = phone.get_by_test_id("number").inner_text().strip()
    code = phone.get_by_test_id("code").inner_text().strip()
    req = PublicRequest.objects.get()
    assert req.number == number and req.desk.code == "dongjie" and len(code) == 6

    # Another day: the person opens the desk and types what they wrote down.
    phone.context.clear_cookies()
    phone.goto(f"{base}/desk/")
    phone.get_by_test_id("track-link").click()
    phone.wait_for_url(f"{base}/desk/track/")
    phone.locator("#id_number").fill(number.replace("-", ""))
    phone.locator("#id_code").fill(code.lower())
    phone.get_by_test_id("open").click()
    phone.wait_for_url(f"{base}/desk/track/{number}/")
    expect(phone.get_by_test_id("status")).to_have_attribute("data-status", "received")
    expect(phone.locator("[data-step=received]")).to_have_class("current")
    expect(phone.get_by_test_id("text")).to_have_text(TEXT)
    assert "王大妈" not in phone.content()
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert not errors
