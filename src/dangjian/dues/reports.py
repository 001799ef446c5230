"""The collection report as a spreadsheet, and the monthly remittance's figures.

The report has one row per organisation below (tens, at most a few thousand), so the workbook is
written in the request, with openpyxl's write-only mode; text cells go through `safe_cell` so a
name starting with "=" is never run as a formula.
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


def collection_workbook(report: dict, org, year: int) -> bytes:
    """Two sheets: by organisation below (with a total row), and by month."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("By organisation"))
    sheet.append([safe_cell(f"{org.name} · {year}")])
    sheet.append([_("organisation"), _("code"), *_headers()])
    for child in report["children"]:
        name = child["org"].name
        if child["own"]:
            name = _("%(name)s (its own members)") % {"name": name}
        sheet.append([safe_cell(name), safe_cell(child["org"].code), *_figures(child["total"])])
    sheet.append([_("Total"), "", *_figures(report["total"])])
    months = workbook.create_sheet(_("By month"))
    months.append([safe_cell(f"{org.name} · {year}")])
    months.append([_("month"), *_headers()])
    for row in report["months"]:
        months.append([row["month"], *_figures(row)])
    months.append([_("Total"), *_figures(report["total"])])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def remittance_rows(rows: list[dict]) -> list[dict]:
    """Each organisation's month: dues collected, voluntary payments under the large one-off
    threshold, large one-off payments (remitted to the centre), and the sum received."""
    result = []
    for row in rows:
        voluntary, large, paid = (
            _money(row["voluntary"]),
            _money(row["large_one_off"]),
            _money(row["paid"]),
        )
        result.append(
            {
                **row,
                "due": _money(row["due"]),
                "dues": paid,
                "voluntary_small": voluntary - large,
                "large": large,
                "received": paid + voluntary,
            }
        )
    return result


def remittance_total(rows: list[dict]) -> dict:
    total = {
        k: sum((r[k] for r in rows), Decimal(0))
        for k in ("due", "dues", "voluntary_small", "large", "received")
    }
    total["lines"] = sum(r["lines"] for r in rows)
    total["rate"] = rate(total["dues"], total["due"])
    return total
