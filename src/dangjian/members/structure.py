"""党员队伍结构: the make-up of the membership of an organisation's subtree.

Every figure is counted by the database with GROUP BY over the active members (bands with CASE
WHEN on dates computed here), so the number of queries is fixed: one per table, whatever the
number of members.
"""

import datetime
from dataclasses import dataclass

from django.db.models import Case, CharField, Count, Q, Value, When
from django.db.models.functions import ExtractYear
from django.utils.translation import gettext as _

from dangjian.core import codes, selectors
from dangjian.core.models import Organization

from . import rules
from .exporting import CATEGORY_NAMES
from .selectors import members

AGE_BANDS = [  # (label, youngest age, oldest age)
    ("≤30", None, 30),
    ("31–40", 31, 40),
    ("41–50", 41, 50),
    ("51–60", 51, 60),
    ("61–70", 61, 70),
    (">70", 71, None),
]
YEARS_BANDS = [  # 党龄 from the date of becoming full (rules.party_years)
    ("<5", 0, 4),
    ("5–9", 5, 9),
    ("10–19", 10, 19),
    ("20–29", 20, 29),
    ("30–49", 30, 49),
    ("≥50", 50, None),
]
JOINED_YEARS = 20
TOP_MINORITIES = 10
NONE = "-"  # the band of records without the value


@dataclass
class Table:
    key: str
    title: str
    chart: str  # "pie" or "bar"
    rows: list[tuple[str, int]]

    @property
    def total(self) -> int:
        return sum(n for _label, n in self.rows)

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "title": self.title,
            "chart": self.chart,
            "labels": [label for label, _n in self.rows],
            "values": [n for _label, n in self.rows],
            "total": self.total,
        }


def _bands(field: str, bands, today: datetime.date) -> Case:
    """CASE WHEN putting a date field into age-like bands (age a..b: born after today - (b+1)
    years and on or before today - a years, as in the list filters)."""
    whens = []
    for label, low, high in bands:
        condition = Q()
        if low is not None:
            condition &= Q(**{f"{field}__lte": rules.years_ago(low, today)})
        if high is not None:
            condition &= Q(**{f"{field}__gt": rules.years_ago(high + 1, today)})
        whens.append(When(condition, then=Value(label)))
    return Case(*whens, default=Value(NONE), output_field=CharField())


def _grouped(qs, expression) -> dict:
    rows = qs.annotate(k=expression).values_list("k").annotate(n=Count("id")).order_by()
    return dict(rows)


def _grouped_field(qs, name: str) -> dict:
    return dict(qs.values_list(name).annotate(n=Count("id")).order_by())


def _coded(table: str, counts: dict) -> list[tuple[str, int]]:
    rows = [(name, counts[code]) for code, name in codes.TABLES[table].items() if counts.get(code)]
    missing = sum(n for code, n in counts.items() if code not in codes.TABLES[table])
    if missing:
        rows.append((_("Not recorded"), missing))
    return rows


def scope_roots(user):
    """The organisations at the top of the user's member.view scope."""
    prefixes = selectors.scope_for(user, "member.view")
    if "" in prefixes:
        return Organization.objects.get_root_nodes().order_by("display_order", "path")
    return Organization.objects.filter(path__in=prefixes).order_by("path")


def scope_top(user) -> Organization | None:
    """Where the structure page starts: the first organisation at the top of the scope."""
    if not selectors.scope_for(user, "member.view"):
        return None
    return scope_roots(user).first()


def active_members(user, org: Organization | None):
    qs = members(user).filter(status=rules.ACTIVE)
    if org is not None:
        qs = qs.filter(selectors.subtree_range("org_path", org.path))
    return qs


def figures(user, org: Organization | None, today: datetime.date | None = None) -> list[Table]:
    """Every table of the structure page, for the active members of `org`'s subtree that the
    user may see. Eight grouped queries."""
    today = today or datetime.date.today()
    qs = active_members(user, org)

    by_sex = _grouped_field(qs, "sex")
    sex = _coded("sex", by_sex)

    by_age = _grouped(qs, _bands("birth_date", AGE_BANDS, today))
    age = [(label, by_age.get(label, 0)) for label, _low, _high in AGE_BANDS]

    education = _coded("education", _grouped_field(qs, "education"))

    by_ethnicity = _grouped_field(qs, "ethnicity")
    han = by_ethnicity.get(codes.HAN, 0)
    minority_total = sum(n for code, n in by_ethnicity.items() if code != codes.HAN)
    minorities = sorted(
        ((codes.name_of("ethnicity", c) or c or _("Not recorded"), n))
        for c, n in by_ethnicity.items()
        if c != codes.HAN
    )
    minorities.sort(key=lambda row: -row[1])
    top = minorities[:TOP_MINORITIES]
    rest = sum(n for _name, n in minorities[TOP_MINORITIES:])
    if rest:
        top.append((_("Other minorities"), rest))

    by_years = _grouped(qs, _bands("full_on", YEARS_BANDS, today))
    years = [(label, by_years.get(label, 0)) for label, _low, _high in YEARS_BANDS]
    if by_years.get(NONE):
        years.append((_("Probationary (no Party years yet)"), by_years[NONE]))

    by_category = _grouped_field(qs, "category")
    category = [(name, by_category.get(code, 0)) for code, name in CATEGORY_NAMES.items()]

    job = _coded("job_category", _grouped_field(qs, "job_category"))

    first = today.year - JOINED_YEARS + 1
    by_year = _grouped(
        qs.filter(joined_on__gte=datetime.date(first, 1, 1), joined_on__lte=today),
        ExtractYear("joined_on"),
    )
    joined = [(str(y), by_year.get(y, 0)) for y in range(first, today.year + 1)]

    return [
        Table("sex", _("Sex"), "pie", sex),
        Table("age", _("Age"), "bar", age),
        Table("education", _("Education"), "bar", education),
        Table(
            "ethnicity",
            _("Han and minorities"),
            "pie",
            [(_("Han"), han), (_("Minorities"), minority_total)],
        ),
        Table("minorities", _("Minority groups"), "bar", top),
        Table("party_years", _("Party standing years"), "bar", years),
        Table("category", _("Category"), "pie", category),
        Table("job_category", _("Job category"), "bar", job),
        Table("joined", _("Joined per year"), "bar", joined),
    ]


def write_xlsx(tables: list[Table], org: Organization | None, handle, today=None) -> None:
    """Every table on one sheet, one under another, with a title line for the organisation."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    from dangjian.core.exports import safe_cell

    today = today or datetime.date.today()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Structure"))
    sheet.column_dimensions["A"].width = 30
    sheet.column_dimensions["B"].width = 12
    sheet.column_dimensions["C"].width = 10
    bold = Font(bold=True)

    def strong(text):
        cell = WriteOnlyCell(sheet, value=safe_cell(text))
        cell.font = bold
        return cell

    title = _("Structure of the membership")
    sheet.append([strong(f"{org.name if org else ''} {title}".strip())])
    sheet.append([_("as of"), today.isoformat()])
    for table in tables:
        sheet.append([])
        sheet.append([strong(table.title), strong(_("Members")), strong(_("Share"))])
        total = table.total
        for label, n in table.rows:
            share = round(n / total, 4) if total else 0
            sheet.append([safe_cell(label), n, share])
        sheet.append([_("Total"), total, 1 if total else 0])
    workbook.save(handle)
