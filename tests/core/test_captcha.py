"""The CAPTCHA of the public forms (core.captcha): single-use challenges, the picture, the form
field and the two public views."""

import io
import re
import threading
import time

import pytest
from django import forms
from django.core.cache import caches
from django.urls import reverse
from django.utils import translation
from django.utils.translation import ngettext
from PIL import Image

from dangjian.core import captcha
from dangjian.core.captcha import CaptchaField, image_png, new_challenge, verify
from dangjian.core.crypto import keyed_hash
from dangjian.core.errors import NotFound
from tests.captchas import answer_for, solved, token_in

MISMATCH = "The characters from the picture do not match: try the new picture."


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


# Challenges ------------------------------------------------------------------------------------


def test_the_right_answer_passes_once():
    token = new_challenge()
    answer = answer_for(token)
    assert verify(token, answer) is True
    assert verify(token, answer) is False
    assert answer_for(token) is None


def test_a_wrong_answer_fails_and_uses_the_challenge_up():
    token = new_challenge()
    answer = answer_for(token)
    assert verify(token, "WRONG") is False
    assert verify(token, answer) is False


@pytest.mark.parametrize(
    "token",
    [None, "", "not-a-real-token-000000", "x" * 22, "../../etc/passwd", "a" * 5000, "tok en"],
)
def test_an_unknown_or_forged_token_fails(token):
    new_challenge()
    assert verify(token, "ACE34") is False


@pytest.mark.parametrize(
    "typed",
    [
        lambda a: a.lower(),
        lambda a: f"  {a[:2]} {a[2:]} ",
        lambda a: "".join(chr(ord(c) + 0xFEE0) for c in a),  # full-width, from a Chinese IME
    ],
    ids=["lower case", "spaces", "full width"],
)
def test_case_spaces_and_width_do_not_matter(typed):
    token = new_challenge()
    assert verify(token, typed(answer_for(token))) is True


def test_of_concurrent_right_answers_one_passes():
    token = new_challenge()
    answer = answer_for(token)
    prefix = caches["default"].key_prefix
    barrier = threading.Barrier(8)
    results = []

    def attempt():
        caches["default"].key_prefix = prefix  # each thread has its own cache object
        barrier.wait()
        results.append(verify(token, answer))

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


def test_an_answer_with_a_character_missing_fails():
    token = new_challenge()
    assert verify(token, answer_for(token)[:-1]) is False


def test_answers_avoid_look_alike_characters():
    assert not set("0O1I") & set(captcha.ALPHABET)
    answers = [answer_for(new_challenge()) for _ in range(50)]
    assert all(len(a) == captcha.LENGTH and set(a) <= set(captcha.ALPHABET) for a in answers)
    assert len(set(answers)) > 45


def test_a_challenge_expires(monkeypatch):
    monkeypatch.setattr(captcha, "CHALLENGE_TTL", 1)
    token = new_challenge()
    answer = answer_for(token)
    time.sleep(1.2)
    assert verify(token, answer) is False


def test_the_cache_key_is_a_keyed_hash_of_the_token():
    token = new_challenge()
    assert captcha._key(token) == f"captcha:{keyed_hash(token)}"


# Picture -----------------------------------------------------------------------------------------


def test_the_picture_is_a_png_of_160_by_60():
    png = image_png(new_challenge())
    image = Image.open(io.BytesIO(png))
    assert (image.format, image.size) == ("PNG", (160, 60))
    assert len(image.convert("L").getcolors(256)) > 20  # drawn on, not blank


def test_a_token_always_gets_the_same_picture_and_tokens_differ():
    token, other = new_challenge(), new_challenge()
    assert image_png(token) == image_png(token)
    assert image_png(token) != image_png(other)


def test_no_picture_for_an_unknown_or_used_token():
    token = new_challenge()
    verify(token, "nope")
    for bad in (token, "x" * 22, "../x"):
        with pytest.raises(NotFound):
            image_png(bad)


# Form field ----------------------------------------------------------------------------------


class DeskForm(forms.Form):
    name = forms.CharField()
    captcha = CaptchaField()


def test_the_field_shows_picture_token_and_input():
    html = str(DeskForm()["captcha"])
    token = token_in(html)
    assert answer_for(token) is not None
    assert f'src="{reverse("core:captcha_image", args=[token])}"' in html
    answer = re.search(r"<input type=\"text\"[^>]*>", html).group(0)
    assert 'name="captcha_answer"' in answer and 'id="id_captcha_answer"' in answer
    assert 'autocomplete="off"' in answer and 'autocapitalize="characters"' in answer
    assert 'hx-get="/captcha/new/?name=captcha&amp;id=id_captcha&amp;old=' + token in html
    assert 'hx-target="closest .dj-captcha"' in html and "New picture" in html
    assert DeskForm()["captcha"].id_for_label == "id_captcha_answer"


def test_a_right_answer_validates():
    token = token_in(str(DeskForm()["captcha"]))
    form = DeskForm({"name": "王芳", "captcha_token": token, "captcha_answer": answer_for(token)})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["captcha"] is True


def test_a_wrong_answer_is_an_error_on_the_field_and_a_new_picture_is_shown():
    token = token_in(str(DeskForm()["captcha"]))
    form = DeskForm({"name": "王芳", "captcha_token": token, "captcha_answer": "WRONG"})
    assert not form.is_valid()
    assert form.errors == {"captcha": [MISMATCH]}
    html = str(form["captcha"])
    fresh = token_in(html)
    assert fresh != token and answer_for(fresh) is not None
    assert "is-invalid" in html and 'aria-invalid="true"' in html
    assert "WRONG" not in html  # the old answer is not shown again
    assert form["name"].value() == "王芳"  # the rest of the form is kept


def test_a_missing_answer_asks_for_one():
    token = token_in(str(DeskForm()["captcha"]))
    form = DeskForm({"name": "王芳", "captcha_token": token, "captcha_answer": "  "})
    assert form.errors == {"captcha": ["Type the characters from the picture."]}
    form = DeskForm({"name": "王芳"})
    assert form.errors == {"captcha": ["Type the characters from the picture."]}


def test_a_replayed_answer_fails_on_the_form():
    data = {"name": "王芳", **solved(str(DeskForm()["captcha"]))}
    assert DeskForm(data).is_valid()
    form = DeskForm(data)
    assert not form.is_valid() and form.errors == {"captcha": [MISMATCH]}


def test_a_form_failing_elsewhere_asks_about_a_new_picture():
    data = solved(str(DeskForm()["captcha"]))
    form = DeskForm(data)  # name missing
    assert not form.is_valid() and list(form.errors) == ["name"]
    assert token_in(str(form["captcha"])) != data["captcha_token"]


def test_a_prefixed_form_keeps_its_names():
    form = DeskForm(prefix="desk")
    html = str(form["captcha"])
    token = token_in(html, "desk-captcha")
    data = {"desk-name": "王芳", "desk-captcha_token": token}
    data["desk-captcha_answer"] = answer_for(token)
    assert DeskForm(data, prefix="desk").is_valid()


# Views ---------------------------------------------------------------------------------------


def no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


def test_the_picture_view_answers_anyone_without_storing(client):
    token = new_challenge()
    response = client.get(reverse("core:captcha_image", args=[token]))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert no_store(response)
    assert Image.open(io.BytesIO(response.content)).size == (160, 60)
    assert answer_for(token) is not None  # looking is not answering


@pytest.mark.parametrize("token", ["x" * 22, "a.b"])
def test_the_picture_view_answers_404_for_an_unknown_token(client, token):
    response = client.get(f"/captcha/{token}.png")
    assert response.status_code == 404 and no_store(response)


def test_the_picture_view_answers_404_once_the_challenge_is_used(client):
    token = new_challenge()
    verify(token, "nope")
    response = client.get(reverse("core:captcha_image", args=[token]))
    assert response.status_code == 404


def test_the_new_picture_view_gives_a_fresh_challenge_and_drops_the_old(client):
    old = new_challenge()
    response = client.get(
        reverse("core:captcha_new"), {"name": "desk-captcha", "id": "id_desk-captcha", "old": old}
    )
    assert response.status_code == 200 and no_store(response)
    html = response.content.decode()
    fresh = token_in(html, "desk-captcha")
    assert fresh != old and answer_for(fresh) is not None
    assert answer_for(old) is None
    assert 'id="id_desk-captcha_answer"' in html and 'class="dj-captcha' in html


@pytest.mark.parametrize("params", [{"name": "a b"}, {"name": "x", "id": '"><script>'}])
def test_the_new_picture_view_refuses_odd_names(client, params):
    assert client.get(reverse("core:captcha_new"), params).status_code == 400


def test_pictures_are_limited_per_address(client, monkeypatch, settings):
    settings.TRUST_X_FORWARDED_FOR = False
    monkeypatch.setattr(captcha, "IMAGES_PER_MINUTE", 3)
    token = new_challenge()
    url = reverse("core:captcha_image", args=[token])
    for _ in range(3):
        assert client.get(url, REMOTE_ADDR="198.51.100.4").status_code == 200
    # a made-up forwarding header from an untrusted client changes nothing
    refused = client.get(url, REMOTE_ADDR="198.51.100.4", HTTP_X_FORWARDED_FOR="192.0.2.1")
    assert refused.status_code == 429 and no_store(refused)
    assert 0 < int(refused["Retry-After"]) <= 60
    expected = ngettext(
        "Too many attempts: try again in %(n)d minute.",
        "Too many attempts: try again in %(n)d minutes.",
        1,
    ) % {"n": 1}
    assert refused.content.decode() == expected
    assert client.get(url, REMOTE_ADDR="198.51.100.5").status_code == 200


def test_new_pictures_are_limited_per_address(client, monkeypatch):
    monkeypatch.setattr(captcha, "NEW_PER_MINUTE", 2)
    url = reverse("core:captcha_new")
    assert [client.get(url).status_code for _ in range(3)] == [200, 200, 429]


def test_the_views_only_answer_get(client):
    token = new_challenge()
    assert client.post(reverse("core:captcha_image", args=[token])).status_code == 405
    assert client.post(reverse("core:captcha_new")).status_code == 405
