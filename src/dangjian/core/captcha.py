"""The CAPTCHA (图形验证码) of the public forms that need no account: challenges kept in the cache,
pictures drawn with Pillow, the form field, and the two public views that serve them.

A challenge is a random token standing for an answer kept in the cache for CHALLENGE_TTL. The
answer is checked once: right or wrong, the challenge is gone, so a replayed or forged token
fails and every new try needs a new picture. The picture of a token is drawn the same way every
time it is asked for, so fetching it again and again and averaging away the noise gains nothing.
"""

import hmac
import io
import random
import re
import secrets
import unicodedata

from django import forms
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseNotFound
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from PIL import Image, ImageDraw, ImageFont

from . import ratelimit
from .crypto import keyed_hash
from .errors import NotFound
from .middleware import client_ip

CHALLENGE_TTL = 600  # seconds a picture stays answerable
LENGTH = 5
# Digits and capitals without look-alikes: no 0/O/D/Q, 1/I, 5/S, 8/B, 2/Z.
ALPHABET = "34679ACEFGHJKLMNPRTUVWXY"
WIDTH, HEIGHT = 160, 60
IMAGES_PER_MINUTE = 60  # per client address
NEW_PER_MINUTE = 30  # "new picture" clicks per client address

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


def _key(token: str) -> str:
    return f"captcha:{keyed_hash(token)}"


def _normal(answer) -> str:
    # Full-width letters from a Chinese input method count as the letters they look like.
    return "".join(unicodedata.normalize("NFKC", str(answer or "")).split()).upper()


def new_challenge() -> str:
    """A fresh challenge; the token goes in the page, the answer stays in the cache."""
    token = secrets.token_urlsafe(16)
    answer = "".join(secrets.choice(ALPHABET) for _i in range(LENGTH))
    cache.set(_key(token), answer, CHALLENGE_TTL)
    return token


def is_live(token) -> bool:
    """Is the token a challenge still waiting for its answer?"""
    return bool(token) and bool(_TOKEN.match(token)) and cache.get(_key(token)) is not None


def discard(token) -> None:
    """Drop a challenge nobody will answer (its picture was swapped for a new one)."""
    if token and _TOKEN.match(token):
        cache.delete(_key(token))


def verify(token, answer) -> bool:
    """Is `answer` the text of the picture of `token`? Case and spaces do not matter. The
    challenge is used up by the check, whatever its outcome."""
    if not token or not _TOKEN.match(str(token)):
        return False
    key = _key(token)
    expected = cache.get(key)
    # delete() says whether this call removed the key: of two concurrent checks of one token,
    # only one gets to compare.
    if expected is None or not cache.delete(key):
        return False
    return hmac.compare_digest(_normal(answer).encode(), expected.encode())


def image_png(token) -> bytes:
    """The picture of a challenge as PNG; NotFound when the token is unknown, expired or used."""
    answer = cache.get(_key(token)) if token and _TOKEN.match(token) else None
    if answer is None:
        raise NotFound(_("This picture has expired: ask for a new one."))
    return _draw(answer, random.Random(keyed_hash(f"captcha-picture:{token}")))


def _draw(text: str, rng: random.Random) -> bytes:
    background = tuple(rng.randint(232, 250) for _i in range(3))
    image = Image.new("RGB", (WIDTH, HEIGHT), background)
    draw = ImageDraw.Draw(image)

    def ink(low=20, high=120):
        return tuple(rng.randint(low, high) for _i in range(3))

    for _i in range(3):  # faint lines behind the characters
        draw.line(_random_line(rng), fill=ink(140, 200), width=1)
    step = (WIDTH - 16) / len(text)
    for i, char in enumerate(text):
        font = ImageFont.load_default(size=rng.randint(32, 40))
        glyph = Image.new("RGBA", (48, 56), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((24, 28), char, font=font, fill=(*ink(), 255), anchor="mm")
        glyph = glyph.rotate(rng.uniform(-30, 30), resample=Image.Resampling.BICUBIC)
        x = int(8 + i * step + step / 2 - 24 + rng.randint(-3, 3))
        y = int((HEIGHT - 56) / 2 + rng.randint(-4, 4))
        image.paste(glyph, (x, y), glyph)
    for _i in range(4):  # lines across the characters
        draw.line(_random_line(rng), fill=ink(), width=rng.choice((1, 2)))
    for _i in range(220):
        draw.point((rng.randrange(WIDTH), rng.randrange(HEIGHT)), fill=ink(0, 160))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _random_line(rng: random.Random) -> list[tuple[int, int]]:
    return [
        (rng.randint(0, WIDTH // 4), rng.randint(0, HEIGHT)),
        (rng.randint(WIDTH // 3, 2 * WIDTH // 3), rng.randint(0, HEIGHT)),
        (rng.randint(3 * WIDTH // 4, WIDTH), rng.randint(0, HEIGHT)),
    ]


# Form field ------------------------------------------------------------------------------------


class CaptchaWidget(forms.Widget):
    """The picture, a hidden token, a text input and a "new picture" button (htmx). Posts
    `<name>_token` and `<name>_answer`. Every rendering shows a challenge still waiting for its
    answer: a new one unless the posted one is unused, so a form shown again after a failed
    check asks about a new picture and keeps everything else the person typed."""

    template_name = "core/_captcha.html"

    def value_from_datadict(self, data, files, name):
        return (data.get(f"{name}_token", ""), data.get(f"{name}_answer", ""))

    def value_omitted_from_data(self, data, files, name):
        return f"{name}_token" not in data and f"{name}_answer" not in data

    def format_value(self, value):
        return None  # the answer is never shown again

    def id_for_label(self, id_):
        return f"{id_}_answer" if id_ else id_

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        token = value[0] if isinstance(value, list | tuple) and value else None
        if not is_live(token):
            token = new_challenge()
        box_id = context["widget"]["attrs"].get("id") or f"id_{name}"
        context["captcha"] = {
            "token": token,
            "image_url": reverse("core:captcha_image", args=[token]),
            "new_url": reverse("core:captcha_new"),
            "token_name": f"{name}_token",
            "answer_name": f"{name}_answer",
            "id": box_id,
            "answer_id": f"{box_id}_answer",
            "invalid": context["widget"]["attrs"].get("aria-invalid") == "true",
            "length": LENGTH,
        }
        return context


class CaptchaField(forms.Field):
    """Add `captcha = CaptchaField()` to a public form: cleaning checks (and uses up) the
    challenge; a wrong or missing answer is an error on this field."""

    widget = CaptchaWidget
    default_error_messages = {
        "required": _("Type the characters from the picture."),
        "mismatch": _("The characters from the picture do not match: try the new picture."),
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("verification code"))
        kwargs["required"] = True
        super().__init__(**kwargs)

    def clean(self, value):
        token, answer = value if isinstance(value, list | tuple) and len(value) == 2 else ("", "")
        if verify(token, answer):
            return True
        code = "mismatch" if _normal(answer) else "required"
        raise ValidationError(self.error_messages[code], code=code)

    def has_changed(self, initial, data):
        return False


# Views (public: no account needed) ------------------------------------------------------------


def _too_many(exc: ratelimit.RateLimited) -> HttpResponse:
    response = HttpResponse(str(exc.message), status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(exc.retry_after)
    return response


@never_cache
@require_GET
def image_view(request, token):
    """GET /captcha/<token>.png: the picture of a challenge, never stored by a cache."""
    try:
        ratelimit.hit(
            "captcha:image", client_ip(request) or "-", limit=IMAGES_PER_MINUTE, window=60
        )
        png = image_png(token)
    except ratelimit.RateLimited as exc:
        return _too_many(exc)
    except NotFound as exc:
        return HttpResponseNotFound(str(exc.message), content_type="text/plain; charset=utf-8")
    return HttpResponse(png, content_type="image/png")


@never_cache
@require_GET
def new_view(request):
    """GET /captcha/new/?name=<field name>&id=<field id>&old=<token>: the field again with a new
    challenge (an htmx partial); the old challenge is dropped."""
    name = request.GET.get("name", "captcha")
    box_id = request.GET.get("id") or f"id_{name}"
    if not _NAME.match(name) or not _NAME.match(box_id):
        return HttpResponseBadRequest("bad field name", content_type="text/plain; charset=utf-8")
    try:
        ratelimit.hit("captcha:new", client_ip(request) or "-", limit=NEW_PER_MINUTE, window=60)
    except ratelimit.RateLimited as exc:
        return _too_many(exc)
    discard(request.GET.get("old"))
    return HttpResponse(CaptchaWidget().render(name, None, attrs={"id": box_id}))
