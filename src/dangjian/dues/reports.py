"""The collection report as a spreadsheet, and the monthly remittance's figures.

The report has one row per organisation below (tens, at most a few thousand), so the workbook is
written in the request, with openpyxl's write-only mode; text cells go through `safe_cell` so a
name starting with "=" is never run as a formula. Beside the collection by organisation and by
month it lists the members exempt from dues and those six months or more behind.
"""

import io
from decimal import Decimal

from django.utils.translation import gettext as _

from dangjian.core.exports import safe_cell

from .rules import CENT
from .selectors import rate

COUNTS = ("lines", "paid_lines", "partial_lines", "exempt_lines", "no_base_lines")
AMOUNTS = ("due", "paid", "voluntary", "large_one_off")


def _money(value) -> Decimal:
    """Sums read back from SQLite carry stray digits: amounts are to 0.01 yuan."""
    return Decimal(value or 0).quantize(CENT)


def _figures(row: dict) -> list:
    return [
        _money(row["due"]),
        _money(row["paid"]),
        row["rate"],
        *(int(row[k] or 0) for k in COUNTS),
        _money(row["voluntary"]),
        _money(row["large_one_off"]),
    ]


def _headers() -> list[str]:
    return [
        _("amount due"),
        _("amount paid"),
        _("collection rate (%)"),
        _("member-months"),
        _("paid"),
        _("partly paid"),
        _("exempt"),
        _("no base declared"),
        _("voluntary payments"),
        _("of which large one-off"),
    ]


def _to_date_headers(months: int) -> list[str]:
    span = {"n": months}
    return [
        _("due, months 1–%(n)d") % span,
        _("paid, months 1–%(n)d") % span,
        _("collection rate to date (%%), months 1–%(n)d") % span,
    ]


def _to_date(row: dict) -> list:
    return [_money(row["due"]), _money(row["paid"]), row["rate"]]


def _month(pair) -> str:
    year, month = pair
    return f"{year}-{month:02d}"


def collection_workbook(report: dict, org, year: int, *, exempt=(), arrears=(), on=None) -> bytes:
    """Four sheets: by organisation below (with a total row; the whole year's figures, then
    the year to date: the months owed by now), by month, the members exempt from dues in the
    year (`exempt`: approved Relief rows), and the members six months or more behind as of
    `on` (`arrears`: rows of selectors.arrears)."""
    from openpyxl import Workbook

    upto = report["to_date"]["months"]
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("By organisation"))
    sheet.append([safe_cell(f"{org.name} · {year}")])
    sheet.append([_("organisation"), _("code"), *_headers(), *_to_date_headers(upto)])
    for child in report["children"]:
        name = child["org"].name
        if child["own"]:
            name = _("%(name)s (its own members)") % {"name": name}
        sheet.append(
            [
                safe_cell(name),
                safe_cell(child["org"].code),
                *_figures(child["total"]),
                *_to_date(child["to_date"]),
            ]
        )
    sheet.append([_("Total"), "", *_figures(report["total"]), *_to_date(report["to_date"])])
    months = workbook.create_sheet(_("By month"))
    months.append([safe_cell(f"{org.name} · {year}")])
    months.append([_("month"), *_headers()])
    for row in report["months"]:
        months.append([row["month"], *_figures(row)])
    months.append([_("Total"), *_figures(report["total"])])

    exempt_sheet = workbook.create_sheet(_("Exempt members"))
    exempt_sheet.append([safe_cell(f"{org.name} · {year}")])
    exempt_sheet.append(
        [
            _("person's name"),
            _("organisation"),
            _("from month"),
            _("to month"),
            _("reason"),
            _("date of the branch's decision"),
            _("date of sign-off"),
        ]
    )
    for relief in exempt:
        exempt_sheet.append(
            [
                safe_cell(relief.member.name),
                safe_cell(relief.organization.name),
                _month((relief.year, relief.from_month)),
                _month((relief.year, relief.to_month)),
                safe_cell(relief.reason),
                relief.branch_decided_on,
                relief.signed_on,
            ]
        )

    behind = workbook.create_sheet(_("Six months unpaid"))
    behind.append(
        [
            safe_cell(
                _("%(org)s · as of %(day)s")
                % {"org": org.name, "day": on.isoformat() if on else ""}
            )
        ]
    )
    behind.append(
        [
            _("person's name"),
            _("organisation"),
            _("first unpaid month"),
            _("last unpaid month"),
            _("months unpaid"),
            _("amount owed"),
            _("decisions so far"),
        ]
    )
    for row in arrears:
        member = row["member"]
        behind.append(
            [
                safe_cell(member.name),
                safe_cell(member.organization.name),
                _month(row["first"]),
                _month(row["through"]),
                row["months"],
                _money(row["owed"]),
                len(row["decisions"]),
            ]
        )
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def remittance_rows(rows: list[dict]) -> list[dict]:
    """Each organisation's month (selectors.remittance) to the fen, with the voluntary payments
    under the large one-off threshold apart from the large ones (remitted to the centre)."""
    result = []
    for row in rows:
        voluntary, large = _money(row["voluntary"]), _money(row["large_one_off"])
        result.append(
            {
                **row,
                "dues": _money(row["dues"]),
                "voluntary": voluntary,
                "voluntary_small": voluntary - large,
                "large_one_off": large,
                "large": large,
                "received": _money(row["received"]),
                "due": _money(row["due"]),
                "paid": _money(row["paid"]),
            }
        )
    return result


def remittance_total(rows: list[dict]) -> dict:
    total = {
        k: sum((r[k] for r in rows), Decimal(0))
        for k in ("dues", "voluntary", "voluntary_small", "large", "received", "due", "paid")
    }
    total["large_one_off"] = total["large"]
    total["payments"] = sum(r["payments"] for r in rows)
    total["lines"] = sum(r["lines"] for r in rows)
    total["rate"] = rate(total["paid"], total["due"])
    return total
