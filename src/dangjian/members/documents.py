"""PDF documents of member records, drawn by WeasyPrint with the CJK fonts installed by setup
(Noto Sans/Serif CJK SC): the roster (花名册) and the member information card (党员信息采集表).

ID and phone numbers are masked unless the user asked for full values and may see them for the
member; every document with full values records an audit event (member.export_full).
"""

import base64
import datetime

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core import codes, crypto, selectors
from dangjian.core.errors import Forbidden, ValidationFailed

from . import exporting
from .exporting import CATEGORY_NAMES, STANDING_NAMES, Export
from .models import Member

# Rows of one roster PDF and cards of one document (settings MEMBER_ROSTER_PDF_LIMIT and
# MEMBER_CARDS_PDF_LIMIT may change them); beyond that the spreadsheet export is the way.
ROSTER_PDF_LIMIT = 2000
CARDS_PDF_LIMIT = 300


def roster_limit() -> int:
    return getattr(settings, "MEMBER_ROSTER_PDF_LIMIT", ROSTER_PDF_LIMIT)


def cards_limit() -> int:
    return getattr(settings, "MEMBER_CARDS_PDF_LIMIT", CARDS_PDF_LIMIT)


PHOTO_MAX_BYTES = 2 * 1024 * 1024
# The documents are the national forms: their titles and labels are Chinese in every language.
ROSTER_TITLE = "党员花名册"
CARD_TITLE = "党员信息采集表"


def _no_fetching(url: str, *args, **kwargs):
    """Documents are self-contained (photos are data: URLs): nothing is fetched from anywhere."""
    if url.startswith("data:"):
        from weasyprint.urls import default_url_fetcher

        return default_url_fetcher(url, *args, **kwargs)
    raise ValueError(f"not fetched: {url[:60]}")


def _pdf(html: str) -> bytes:
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration

    return HTML(string=html, url_fetcher=_no_fetching).write_pdf(font_config=FontConfiguration())


def roster_pdf(export: Export) -> bytes:
    """The filtered list as a landscape A4 table with a page header and page numbers."""
    qs = exporting.member_list(export.user, export.filter)
    count = qs.count()
    if count > roster_limit():
        raise ValidationFailed(
            _(
                "%(n)s members: too many for one PDF (at most %(limit)s). Narrow the filters or "
                "export a spreadsheet."
            )
            % {"n": count, "limit": roster_limit()},
            code="too_many_rows",
        )
    rows = list(exporting.export_rows(export.user, export.filter, export.columns, export.full))
    html = render_to_string(
        "members/pdf/roster.html",
        {
            "title": ROSTER_TITLE,
            "org": export.org,
            "scope_label": export.org.name if export.org else _("All members in your scope"),
            "today": timezone.localdate(),
            "headers": export.headers(),
            "rows": rows,
            "count": len(rows),
        },
    )
    data = _pdf(html)
    exporting.record_full_export(export, len(rows), "roster_pdf")
    return data


def _photo(member: Member) -> str:
    if not member.photo:
        return ""
    try:
        with member.photo.open("rb") as fh:
            raw = fh.read(PHOTO_MAX_BYTES + 1)
    except OSError:
        return ""
    if len(raw) > PHOTO_MAX_BYTES:
        return ""
    kind = "png" if raw[:8] == b"\x89PNG\r\n\x1a\n" else "jpeg"
    return f"data:image/{kind};base64," + base64.b64encode(raw).decode()


def _plain(token: str) -> str:
    return crypto.decrypt(token) if token else ""


def card(member: Member, full: bool) -> dict:
    """The values of one information card, as text."""
    id_number = _plain(member.id_number_encrypted)
    phone = _plain(member.phone_encrypted)
    if not full:
        id_number = crypto.mask_id_number(id_number) if id_number else ""
        phone = crypto.mask_phone(phone) if phone else ""
    contact = ""
    if member.out_of_contact:
        contact = _("Yes, since %(date)s") % {"date": _date(member.out_of_contact_since)}
    mobile = ""
    if member.mobile:
        mobile = _("Yes, to %(where)s") % {"where": member.mobile_destination or "-"}
    return {
        "member": member,
        "photo": _photo(member),
        "sex": codes.name_of("sex", member.sex),
        "ethnicity": codes.name_of("ethnicity", member.ethnicity),
        "education": codes.name_of("education", member.education),
        "job_category": codes.name_of("job_category", member.job_category),
        "category": CATEGORY_NAMES.get(member.category, member.category),
        "standing": STANDING_NAMES.get(member.standing, member.standing),
        "birth_date": _date(member.birth_date),
        "joined_on": _date(member.joined_on),
        "full_on": _date(member.full_on),
        "work_started_on": _date(member.work_started_on),
        "id_number": id_number,
        "phone": phone,
        "out_of_contact": contact or _("No"),
        "mobile": mobile or _("No"),
        "family": [
            {
                "relation": f.relation,
                "name": f.name,
                "birth_date": _date(f.birth_date),
                "political_status": f.political_status,
                "work_unit": f.work_unit,
            }
            for f in member.family.all()
        ],
        "rewards": [
            {
                "kind": r.get_kind_display(),
                "decided_on": _date(r.decided_on),
                "title": r.title,
                "issuer": r.issuer,
                "reference": r.reference,
            }
            for r in member.rewards.all()
        ],
    }


def _date(value) -> str:
    return value.isoformat() if isinstance(value, datetime.date) else ""


def cards_pdf(user, member_qs, *, full: bool = False, export: Export | None = None) -> bytes:
    """Information cards, one A4 page each, of the members of `member_qs` (already scoped)."""
    count = member_qs.count()
    if count > cards_limit():
        raise ValidationFailed(
            _("%(n)s members: too many information cards at once (at most %(limit)s).")
            % {"n": count, "limit": cards_limit()},
            code="too_many_rows",
        )
    if count == 0:
        raise ValidationFailed(_("No member matches the filters."), code="empty")
    prefixes = exporting.full_paths(user, full)
    rows = list(member_qs.select_related("organization").prefetch_related("family", "rewards"))
    cards = [card(m, any(m.org_path.startswith(p) for p in prefixes)) for m in rows]
    html = render_to_string(
        "members/pdf/card.html",
        {"cards": cards, "title": CARD_TITLE},
    )
    data = _pdf(html)
    if full:
        if export is None:
            member = rows[0]
            export = Export(user=user, filter=None, columns=[], full=True, org=member.organization)
            exporting.record_full_export(export, len(rows), "card_pdf", obj=member)
        else:
            exporting.record_full_export(export, len(rows), "card_pdf")
    return data


def check_full_for(user, member: Member, full: bool) -> None:
    if full and not any(
        member.org_path.startswith(p) for p in selectors.scope_for(user, "member.view_sensitive")
    ):
        raise Forbidden(
            _("You may not see full ID and phone numbers here."),
            code="full_values_not_allowed",
            field="full",
        )
