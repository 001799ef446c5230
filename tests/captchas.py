"""Answers to the CAPTCHA for tests: read from the cache, which the application never exposes."""

import re

from django.core.cache import cache

from dangjian.core import captcha


def answer_for(token: str) -> str | None:
    """The text of the picture of `token`, or None when the challenge is used up or unknown."""
    return cache.get(captcha._key(token))


def token_in(html: str, name: str = "captcha") -> str:
    """The challenge token a rendered page carries in the field `name`."""
    found = re.search(rf'name="{re.escape(name)}_token" value="([^"]+)"', html)
    assert found, f"no CAPTCHA field {name!r} in the page"
    return found.group(1)


def solved(html: str, name: str = "captcha") -> dict:
    """The POST data that answers the CAPTCHA of a rendered page rightly."""
    token = token_in(html, name)
    return {f"{name}_token": token, f"{name}_answer": answer_for(token)}
