"""The Simplified Chinese catalogue stays complete and correct.

- every message the extractor finds in the source has a zh_Hans translation (the guard: a new
  {% translate %} or _() without a translation fails here; run `python -m dangjian.i18n extract`,
  translate the new entries in the .po, then `make messages`);
- each translation keeps the placeholders of its msgid;
- the compiled catalogue is used: Chinese by default, English on request.
"""

import re
from collections import Counter

import polib
import pytest
from django.conf import settings
from django.utils import translation

from dangjian import i18n

PO_PATH = i18n.catalogue_path("zh_Hans")
MO_PATH = PO_PATH.with_suffix(".mo")

# %(name)s, %(n)d, %s, %d ... but not the literal %%
PLACEHOLDER_RE = re.compile(r"%(?:\([^)]+\))?[-#0 +]*\d*(?:\.\d+)?[sdifr]")


def placeholders(text: str) -> Counter:
    return Counter(PLACEHOLDER_RE.findall(text.replace("%%", "")))


@pytest.fixture(scope="module")
def catalogue():
    assert PO_PATH.exists(), f"{PO_PATH} is missing: run `python -m dangjian.i18n extract`"
    return polib.pofile(str(PO_PATH))


@pytest.fixture(scope="module")
def extracted():
    return i18n.extract_all()


def test_the_catalogue_has_proper_headers(catalogue):
    assert catalogue.metadata["Language"] == "zh_Hans"
    assert catalogue.metadata["Plural-Forms"].replace(" ", "") == "nplurals=1;plural=0;"
    assert "charset=UTF-8" in catalogue.metadata["Content-Type"]


def test_the_extractor_finds_messages_of_every_kind(extracted):
    keys = {(m.msgid, m.msgid_plural) for m in extracted}
    assert ("Organisations", "") in keys  # {% translate %} and gettext_lazy
    assert ("Welcome, %(name)s", "") in keys  # {% blocktranslate with %}
    assert ("%(n)s match", "%(n)s matches") in keys  # {% blocktranslate count %}{% plural %}
    assert ("Party committee", "") in keys  # TextChoices label


def test_extraction_of_templates_matches_what_django_looks_up():
    source = (
        '{% load i18n %}{% translate \'A “b”\' %}{% trans "C" context "menu" %}'
        "{% blocktranslate trimmed with x=y %}\n  Hello\n  {{ x }}, 100%\n{% endblocktranslate %}"
        "{% blocktranslate count n=k %}{{ n }} item{% plural %}{{ n }} items{% endblocktranslate %}"
        "{% comment %}{% translate 'ignored' %}{% endcomment %}{{ _('Constant')|default:_('Other') }}"
    )
    found = [(m.msgctxt, m.msgid, m.msgid_plural) for _, m in i18n.extract_template(source)]
    assert found == [
        (None, "A “b”", ""),
        ("menu", "C", ""),
        (None, "Hello %(x)s, 100%%", ""),
        (None, "%(n)s item", "%(n)s items"),
        (None, "Constant", ""),
        (None, "Other", ""),
    ]


def test_extraction_of_python_follows_import_aliases():
    source = (
        "from django.utils.translation import gettext_lazy as _, ngettext, pgettext_lazy as p\n"
        "a = _('One')\n"
        "b = ngettext('%(n)d file', '%(n)d files', 3)\n"
        "c = p('month', 'May')\n"
        "d = _(variable)\n"
        "e = other('Not me')\n"
    )
    found = [(m.msgctxt, m.msgid, m.msgid_plural) for _, m in i18n.extract_python(source)]
    assert found == [
        (None, "One", ""),
        (None, "%(n)d file", "%(n)d files"),
        ("month", "May", ""),
    ]


def test_every_message_in_the_source_is_translated(extracted, catalogue):
    entries = {(e.msgctxt, e.msgid): e for e in catalogue if not e.obsolete}
    missing = []
    for message in extracted:
        entry = entries.get(message.key)
        if entry is None:
            missing.append(f"{message.msgid!r} (not in the .po)")
        elif "fuzzy" in entry.flags:
            missing.append(f"{message.msgid!r} (fuzzy)")
        elif message.msgid_plural and not all(entry.msgstr_plural.values()):
            missing.append(f"{message.msgid!r} (plural untranslated)")
        elif not message.msgid_plural and not entry.msgstr:
            missing.append(f"{message.msgid!r} (untranslated)")
    assert not missing, (
        f"{len(missing)} message(s) lack a zh_Hans translation; run "
        "`python -m dangjian.i18n extract`, translate them in "
        f"{PO_PATH}, then `make messages`:\n  " + "\n  ".join(missing)
    )


def test_translations_keep_the_placeholders(catalogue):
    wrong = []
    for entry in catalogue:
        if entry.obsolete:
            continue
        if entry.msgid_plural:
            # One Chinese form serves every n, so it must take the plural form's arguments.
            expected = placeholders(entry.msgid_plural)
            translations = [t for t in entry.msgstr_plural.values() if t]
        else:
            expected = placeholders(entry.msgid)
            translations = [entry.msgstr] if entry.msgstr else []
        for text in translations:
            named = all(p.startswith("%(") for p in expected)
            got = placeholders(text)
            ok = set(got) == set(expected) if named else got == expected
            if not ok:
                wrong.append(f"{entry.msgid!r}: {sorted(expected)} != {sorted(got)} in {text!r}")
    assert not wrong, "placeholders differ:\n  " + "\n  ".join(wrong)


def test_the_compiled_catalogue_is_up_to_date():
    assert MO_PATH.exists() and MO_PATH.stat().st_mtime >= PO_PATH.stat().st_mtime, (
        f"{MO_PATH} is missing or older than the .po: run `make messages` "
        "(or `python -m dangjian.i18n`) before the tests"
    )


def test_chinese_is_the_default_language():
    assert settings.LANGUAGE_CODE == "zh-hans"
    with translation.override("zh-hans"):
        assert translation.gettext("Organisations") == "党组织"
        assert translation.ngettext("%(n)s match", "%(n)s matches", 2) == "找到 %(n)s 个结果"
    with translation.override("en"):
        assert translation.gettext("Organisations") == "Organisations"


@pytest.mark.django_db
def test_the_login_page_speaks_chinese_by_default(client):
    response = client.get("/login/")
    assert response.status_code == 200
    assert "登录" in response.content.decode()


@pytest.mark.django_db
def test_the_login_page_speaks_english_on_request(client):
    response = client.get("/login/", headers={"accept-language": "en"})
    assert "Log in" in response.content.decode()
    assert "登录" not in response.content.decode()

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.get("/login/")
    assert "Log in" in response.content.decode()
