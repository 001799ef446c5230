"""The public request desk through the Django test client: submitting (with the CAPTCHA), the
number and code shown once, following the request with them, adding to it and rating the answer;
bad input never stores anything and keeps what was typed; nothing shows who submitted a request."""

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django.utils.translation import gettext

from dangjian.feedback import services
from dangjian.feedback.models import Entry, EntryKind, Photo, PublicRequest, Status
from tests.captchas import solved, token_in

pytestmark = pytest.mark.django_db

TEXT = "东街小区的路灯坏了好几天，晚上出行很不方便。"
NAME, PHONE = "王大妈", "13812345678"


def post_request(client, url="/desk/new/", *, captcha=None, photos=(), **values):
    """GET the form, answer its CAPTCHA (rightly unless `captcha` is given), POST the request."""
    page = client.get(url)
    assert page.status_code == 200
    data = {"category": "help", "desk": "dongjie", "text": TEXT}
    data |= values
    data |= captcha(page.content.decode()) if captcha else solved(page.content.decode())
    if photos:
        data["photos"] = list(photos)
    return client.post(url, data)


def jpeg(png_bytes, name="photo.jpg"):
    return SimpleUploadedFile(name, png_bytes, content_type="image/jpeg")


def receipt(html: str) -> tuple[str, str]:
    number = re.search(r'data-testid="number">([^<]+)<', html).group(1)
    code = re.search(r'data-testid="code">([^<]+)<', html).group(1)
    return number, code


def submitted(client, **values) -> tuple[str, str]:
    response = post_request(client, **values)
    assert response.status_code == 302 and response["Location"] == "/desk/done/"
    return receipt(client.get("/desk/done/").content.decode())


def opened_by(number, code) -> Client:
    """A browser that opens the request with its number and code."""
    other = Client()
    response = other.post("/desk/track/", {"number": number, "code": code})
    assert response.status_code == 302 and response["Location"] == f"/desk/track/{number}/"
    return other


def text_of(response) -> str:
    return response.content.decode()


# The whole path ----------------------------------------------------------------------------------


def test_submit_follow_add_and_rate(client, desks, people, png_bytes):
    home = text_of(client.get("/desk/"))
    assert 'data-testid="desk-dongjie"' in home and "东街社区" in home

    response = post_request(client, name=NAME, phone=PHONE, photos=[jpeg(png_bytes)])
    assert response.status_code == 302 and response["Location"] == "/desk/done/"
    req = PublicRequest.objects.get()
    assert req.desk == desks["a"] and req.photos.count() == 1

    done = client.get("/desk/done/")
    number, code = receipt(text_of(done))
    assert number == req.number and len(code) == 6
    assert "no-store" in done["Cache-Control"]
    again = text_of(client.get("/desk/done/"))  # shown once
    assert code not in again and 'data-testid="shown-once"' in again
    assert services.find_for_public(number, code).pk == req.pk

    # Another phone: number and code open the request there.
    phone = opened_by(number, code.lower())
    page = text_of(phone.get(f"/desk/track/{number}/"))
    assert 'data-status="received"' in page
    assert '<li class="current" data-step="received"' in page
    assert TEXT in page and 'data-testid="answer-due"' in page
    assert 'data-testid="rate-form"' not in page
    photo = req.photos.get()
    shown = phone.get(f"/desk/track/{number}/photos/{photo.pk}/")
    assert shown.status_code == 200 and shown["Content-Type"] == "image/jpeg"
    assert b"".join(shown.streaming_content)[:2] == b"\xff\xd8"

    added = phone.post(
        f"/desk/track/{number}/add/",
        {"text": "灯杆在3号楼东侧。", "photos": [jpeg(png_bytes, "more.jpg")]},
    )
    assert added.status_code == 302 and added["Location"] == f"/desk/track/{number}/"
    assert Entry.objects.filter(
        request=req, kind=EntryKind.ADDED, text="灯杆在3号楼东侧。"
    ).exists()
    assert req.photos.count() == 2

    req = services.accept(actor=people["alice"], req=req)
    services.answer(actor=people["alice"], req=req, reply="已联系供电所，今天下午修复。")
    page = text_of(phone.get(f"/desk/track/{number}/"))
    assert 'data-status="answered"' in page and "已联系供电所，今天下午修复。" in page
    assert "东街社区党支部" in page  # who answered
    assert 'data-testid="rate-form"' in page and "灯杆在3号楼东侧。" in page

    rated = phone.post(f"/desk/track/{number}/rate/", {"rating": "5", "comment": "很快，谢谢"})
    assert rated.status_code == 302
    req.refresh_from_db()
    assert req.rating == 5 and req.rating_comment == "很快，谢谢"
    page = text_of(phone.get(f"/desk/track/{number}/"))
    assert 'data-rating="5"' in page and 'data-testid="rate-form"' not in page


def test_the_submitting_browser_follows_its_request_without_typing(client, desks):
    number, _code = submitted(client)
    assert 'data-status="received"' in text_of(client.get(f"/desk/track/{number}/"))


def test_an_unsatisfied_rating_reopens_the_request(client, desks, people):
    number, code = submitted(client)
    req = PublicRequest.objects.get()
    services.answer(actor=people["alice"], req=req, reply="已转交相关部门。")
    page = text_of(client.get(f"/desk/track/{number}/"))
    assert "data-reopen" in page  # offered: no reopening yet
    response = client.post(
        f"/desk/track/{number}/rate/", {"rating": "1", "comment": "没解决", "reopen": "on"}
    )
    assert response.status_code == 302
    req.refresh_from_db()
    assert req.status == Status.IN_PROGRESS and req.reopened == 1


def test_reopening_with_a_good_rating_is_refused_on_its_field(client, desks, people):
    number, _code = submitted(client)
    req = PublicRequest.objects.get()
    services.answer(actor=people["alice"], req=req, reply="已转交相关部门。")
    response = client.post(f"/desk/track/{number}/rate/", {"rating": "4", "reopen": "on"})
    assert response.status_code == 200 and 'data-testid="error-reopen"' in text_of(response)
    req.refresh_from_db()
    assert req.rating is None and req.status == Status.ANSWERED


def test_a_merged_request_shows_the_one_it_joined(client, desks, people, submit):
    number, _code = submitted(client)
    mine = PublicRequest.objects.get(number=number)
    other, _c = submit()
    services.merge(actor=people["alice"], req=mine, into=other)
    services.answer(actor=people["alice"], req=other, reply="路灯已修好。")
    page = text_of(client.get(f"/desk/track/{number}/"))
    assert 'data-testid="merged"' in page and other.number in page
    assert 'data-status="answered"' in page and "路灯已修好。" in page


# The QR poster -----------------------------------------------------------------------------------


def test_the_qr_code_fixes_the_place(client, desks):
    page = text_of(client.get("/desk/new/?at=xijie"))
    assert 'data-testid="fixed-place" data-code="xijie"' in page and "西街社区" in page
    assert '<select name="desk"' not in page
    # a forged place in the post does not move the request elsewhere
    response = post_request(client, "/desk/new/?at=xijie", desk="dongjie")
    assert response.status_code == 302
    assert PublicRequest.objects.get().desk == desks["b"]


def test_the_poster_address_leads_to_the_form(client, desks):
    response = client.get("/desk/at/xijie/")
    assert response.status_code == 302 and response["Location"] == "/desk/new/?at=xijie"


def test_an_unknown_place_code_lets_the_person_choose(client, desks):
    page = text_of(client.get("/desk/new/?at=nowhere"))
    assert 'data-testid="unknown-place"' in page and '<select name="desk"' in page


def test_the_home_page_finds_a_place(client, desks):
    page = text_of(client.get("/desk/", {"q": "西街"}))
    assert 'data-testid="desk-xijie"' in page and 'data-testid="desk-dongjie"' not in page


# Bad input -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "灯坏"}, "text"),
        ({"phone": "12345"}, "phone"),
        ({"email": "not-an-address"}, "email"),
        ({"category": "spam"}, "category"),
        ({"desk": ""}, "desk"),
        ({"consent_contact": "on"}, "phone"),
    ],
)
def test_bad_input_names_the_field_and_keeps_what_was_typed(client, desks, values, field):
    typed = {"name": NAME, "email": "", "text": "请修一下路灯，谢谢 <b>紧急</b>"} | values
    response = post_request(client, **typed)
    assert response.status_code == 200
    page = text_of(response)
    assert f'data-testid="error-{field}"' in page
    assert NAME in page  # kept
    if typed["text"]:
        assert "请修一下路灯，谢谢 &lt;b&gt;紧急&lt;/b&gt;" in page or "灯坏" in page
    assert PublicRequest.objects.count() == 0


@pytest.mark.parametrize(
    "captcha",
    [
        lambda html: {"captcha_token": token_in(html), "captcha_answer": "WRONG"},
        lambda html: {"captcha_token": "A" * 22, "captcha_answer": "AAAAA"},  # forged
        lambda html: {"captcha_token": token_in(html), "captcha_answer": ""},
    ],
    ids=["wrong", "forged", "missing"],
)
def test_a_wrong_captcha_stores_nothing_and_keeps_the_fields(client, desks, captcha):
    response = post_request(client, captcha=captcha, name=NAME, phone=PHONE)
    assert response.status_code == 200
    page = text_of(response)
    assert 'data-testid="error-captcha"' in page
    assert TEXT in page and NAME in page and PHONE in page
    assert PublicRequest.objects.count() == 0
    # a new picture to answer, and answering it sends the request
    data = {"category": "help", "desk": "dongjie", "text": TEXT} | solved(page)
    assert client.post("/desk/new/", data).status_code == 302


def test_a_captcha_answers_once(client, desks):
    page = text_of(client.get("/desk/new/"))
    data = {"category": "help", "desk": "dongjie", "text": TEXT} | solved(page)
    assert client.post("/desk/new/", data).status_code == 302
    replayed = client.post("/desk/new/", data)
    assert replayed.status_code == 200 and 'data-testid="error-captcha"' in text_of(replayed)
    assert PublicRequest.objects.count() == 1


def test_a_file_that_is_not_a_photo_is_refused(client, desks):
    fake = SimpleUploadedFile("virus.jpg", b"MZ\x90\x00 not a picture", content_type="image/jpeg")
    response = post_request(client, photos=[fake])
    assert response.status_code == 200
    page = text_of(response)
    assert 'data-testid="error-photos"' in page and "virus.jpg" in page
    assert 'data-testid="photos-again"' in page and TEXT in page
    assert PublicRequest.objects.count() == 0 and Photo.objects.count() == 0


def test_more_than_four_photos_are_refused(client, desks, png_bytes):
    response = post_request(client, photos=[jpeg(png_bytes, f"{i}.jpg") for i in range(5)])
    assert 'data-testid="error-photos"' in text_of(response)
    assert PublicRequest.objects.count() == 0


def test_too_many_requests_from_one_address(client, desks):
    limit, window = services.SUBMIT_PER_IP
    for _i in range(limit):
        assert post_request(client).status_code == 302
    response = post_request(client)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    error = re.search(r'data-testid="form-error">([^<]+)<', text_of(response)).group(1)
    assert str(window // 60) in error  # the minutes to wait
    assert TEXT in text_of(response)
    assert PublicRequest.objects.count() == limit


# Following a request ------------------------------------------------------------------------------


def generic_message() -> str:
    with translation.override("zh-hans"):
        return gettext("No request matches this tracking number and check code.")


def test_a_wrong_number_or_code_gets_one_message(client, desks):
    number, code = submitted(client)
    other = Client()
    wrong_code = other.post("/desk/track/", {"number": number, "code": "ZZZZZZ"})
    wrong_number = other.post("/desk/track/", {"number": "20200101-000000", "code": code})
    for response in (wrong_code, wrong_number):
        assert response.status_code == 200
        assert generic_message() in text_of(response)
    errors = [
        re.search(r'data-testid="form-error">(.*?)</div>', text_of(r), re.S).group(1)
        for r in (wrong_code, wrong_number)
    ]
    assert errors[0] == errors[1]
    assert other.get(f"/desk/track/{number}/").status_code == 302


def test_look_ups_are_limited_per_address(client, desks):
    limit, _window = services.LOOKUPS_PER_IP
    for _i in range(limit):
        client.post("/desk/track/", {"number": "20200101-000000", "code": "ZZZZZZ"})
    response = client.post("/desk/track/", {"number": "20200101-000000", "code": "ZZZZZZ"})
    assert response.status_code == 429 and 'data-testid="form-error"' in text_of(response)


def test_only_a_browser_that_opened_the_request_sees_it(client, desks, png_bytes):
    number, code = submitted(client, photos=[jpeg(png_bytes)])
    photo = Photo.objects.get()
    stranger = Client()
    response = stranger.get(f"/desk/track/{number}/")
    assert response.status_code == 302 and response["Location"].startswith("/desk/track/?")
    assert stranger.get(f"/desk/track/{number}/photos/{photo.pk}/").status_code == 404
    assert stranger.post(f"/desk/track/{number}/add/", {"text": "插一句"}).status_code == 302
    assert stranger.post(f"/desk/track/{number}/rate/", {"rating": "1"}).status_code == 302
    assert not Entry.objects.filter(kind=EntryKind.ADDED).exists()
    # A browser that opened another request does not see this one either.
    mine, my_code = submitted(stranger)
    assert stranger.get(f"/desk/track/{number}/").status_code == 302
    assert stranger.get(f"/desk/track/{mine}/photos/{photo.pk}/").status_code == 404
    assert stranger.get(f"/desk/track/{mine}/").status_code == 200
    assert client.get(f"/desk/track/{number}/photos/{photo.pk}/").status_code == 200


def test_adding_nothing_is_refused_on_the_field(client, desks):
    number, _code = submitted(client)
    response = client.post(f"/desk/track/{number}/add/", {"text": "  "})
    assert response.status_code == 200 and 'data-testid="error-text"' in text_of(response)


# Privacy and escaping ------------------------------------------------------------------------------


def test_no_public_page_shows_who_submitted(client, desks, people):
    number, code = submitted(
        client, name=NAME, phone=PHONE, email="wang@example.com", allow_public="on"
    )
    req = PublicRequest.objects.get()
    req = services.answer(actor=people["alice"], req=req, reply="已联系供电所，今天下午修复。")
    services.feature(actor=people["alice"], req=req, shown=True)
    figures = text_of(client.get("/desk/figures/"))
    assert "已联系供电所，今天下午修复。" in figures and 'data-testid="featured"' in figures
    pages = [
        figures,
        text_of(client.get("/desk/")),
        text_of(client.get(f"/desk/track/{number}/")),
        text_of(client.get("/desk/track/")),
        text_of(opened_by(number, code).get(f"/desk/track/{number}/")),
    ]
    for page in pages:
        for secret in (NAME, PHONE, "138****5678", "王**", "wang@example.com", "w***@"):
            assert secret not in page


def test_typed_html_is_shown_as_text(client, desks):
    number, _code = submitted(client, text='<script>alert("x")</script>路灯坏了三天')
    page = text_of(client.get(f"/desk/track/{number}/"))
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;路灯坏了三天" in page
    assert '<script>alert("x")' not in page


def test_the_figures_page_counts_and_draws(client, desks, people):
    submitted(client)
    page = text_of(client.get("/desk/figures/"))
    assert 'data-testid="total">1<' in page and 'id="desk-chart"' in page
    assert "vendor/echarts.min.js" in page and 'id="desk-chart-data"' in page


# Speed ---------------------------------------------------------------------------------------------


def test_the_status_page_reads_a_fixed_number_of_queries(client, desks, people, png_bytes):
    number, _code = submitted(client, photos=[jpeg(png_bytes)])
    req = PublicRequest.objects.get()

    def count():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/desk/track/{number}/").status_code == 200
        return len(captured)

    few = count()
    req = services.accept(actor=people["alice"], req=req)
    req = services.start(actor=people["alice"], req=req)
    for i in range(4):
        services.add_information(req=req, text=f"补充第{i}条", photo_files=[io.BytesIO(png_bytes)])
    services.answer(actor=people["alice"], req=req, reply="已处理。")
    assert Entry.objects.filter(request=req).count() >= 8
    assert count() == few
