"""Roster (花名册) export: the member list with chosen columns, as a spreadsheet.

One code path for the page, the API and the `export-members` command:

- `prepare(user, params, keys, full)` checks the input (filters, columns, the right to full
  values) and answers a ready `Export`, or raises a ServiceError naming the field at fault;
- `export_rows(user, filter, columns, full)` yields the cell values of each row;
- `write_xlsx(export, handle, progress)` writes the workbook (openpyxl write-only mode) and records
  the audit event of an export with full values;
- the `member_export` job kind runs `write_xlsx` in the background worker.

The file is meant to be imported again: the header is `Column.header`, codes are written as their
Chinese names (core.codes), the category as 正式党员/预备党员, dates as YYYY-MM-DD text, ID and phone
numbers as text, the organisation as its name plus a column with its code. Text that a spreadsheet
would run as a formula, or that starts with an apostrophe, is written with one leading apostrophe
(`export_cell`); an importer takes exactly one leading apostrophe away (`import_text`).
"""

import datetime
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core import audit, codes, crypto, jobs, selectors
from dangjian.core.errors import Forbidden, ValidationFailed
from dangjian.core.exports import safe_cell
from dangjian.core.models import Organization

from .columns import BY_KEY, COLUMNS, DEFAULT_KEYS, Column
from .selectors import MemberFilter, member_list

SHEET_TITLE = "花名册"
JOB_KIND = "member_export"
# The list's query parameters that are filters (everything MemberFilter reads, but `today`).
FILTER_KEYS = (
    "org",
    "exact_org",
    "category",
    "standing",
    "status",
    "sex",
    "age_min",
    "age_max",
    "education",
    "ethnicity",
    "years_min",
    "years_max",
    "joined_from",
    "joined_to",
    "job_category",
    "mobile",
    "out_of_contact",
    "q",
    "sort",
)

# Choice values in Chinese, whatever the page's language: the file is for re-import and for
# offices that file it.
CATEGORY_NAMES = {"full": "正式党员", "probationary": "预备党员"}
STANDING_NAMES = {"normal": "正常", "suspended": "停止党籍"}
STATUS_NAMES = {
    "active": "正常",
    "cancelled": "取消预备党员资格",
    "transferred_out": "已转出",
    "deceased": "已去世",
    "removed": "已除名",
    "expelled": "已开除党籍",
    "left": "已退党",
}
CHOICE_NAMES = {"category": CATEGORY_NAMES, "standing": STANDING_NAMES, "status": STATUS_NAMES}
YES, NO = "是", "否"
# Columns written as text cells (number format "@"): a spreadsheet must not turn them into numbers
# or dates (18-digit ID numbers lose digits as numbers; dates turn into serial numbers).
TEXT_KINDS = {"date", "secret"}
TEXT_KEYS = {"telephone", "organization_code"}
WIDTHS = {"text": 14, "date": 12, "secret": 20, "org": 24, "choice": 10, "bool": 8}
WIDE = {"school": 28, "work_unit": 28, "home_address": 32, "note": 30, "mobile_destination": 20}


def export_cell(value):
    """A cell value that no spreadsheet runs as a formula, undone by `import_text`."""
    if isinstance(value, str) and value.startswith("'"):
        return "'" + value
    return safe_cell(value)


def import_text(value):
    """What an importer does with text of an exported cell: one leading apostrophe goes."""
    if isinstance(value, str) and value.startswith("'"):
        return value[1:]
    return value


def resolve_columns(keys) -> list[Column]:
    """The columns for the given keys (in the order given; the defaults when none). Choosing the
    organisation adds its code right after it: the name alone does not identify it."""
    if isinstance(keys, str):
        keys = [k for k in (p.strip() for p in keys.split(",")) if k]
    keys = list(keys or []) or list(DEFAULT_KEYS)
    unknown = [k for k in keys if k not in BY_KEY]
    if unknown:
        raise ValidationFailed(
            _("Unknown column %(keys)s. Known columns: %(known)s.")
            % {"keys": ", ".join(unknown), "known": ", ".join(c.key for c in COLUMNS)},
            code="unknown_column",
            field="columns",
        )
    ordered: list[str] = []
    for key in keys:
        if key not in ordered:
            ordered.append(key)
    if "organization" in ordered and "organization_code" not in ordered:
        ordered.insert(ordered.index("organization") + 1, "organization_code")
    return [BY_KEY[k] for k in ordered]


def parse_filter(user, params) -> tuple[MemberFilter, Organization | None]:
    """The list filter from query parameters; raises ValidationFailed naming the parameter, and
    NotFound for an organisation outside the user's scope."""
    params = {k: ("" if v is None else str(v)) for k, v in dict(params or {}).items()}
    # MemberFilter.from_params reads ids of at most three digits: the organisation is read here.
    raw_org = params.pop("org", "").strip()
    f, errors = MemberFilter.from_params(params)
    if raw_org and not re.fullmatch(r"[0-9]{1,18}", raw_org):
        errors = {"org": "organisation id expected", **errors}
    elif raw_org:
        f.org = int(raw_org)
    if errors:
        name, message = next(iter(errors.items()))
        raise ValidationFailed(
            _("Filter %(name)s: %(message)s") % {"name": name, "message": message},
            code="invalid_filter",
            field=name,
        )
    org = selectors.get_organization(user, f.org, "member.view") if f.org else None
    return f, org


def filter_params(data) -> dict[str, str]:
    """The filter parameters in a QueryDict or dict (kept even when empty: an empty status means
    every status), as JSON-ready text."""
    return {k: str(data.get(k) or "") for k in FILTER_KEYS if k in data}


def may_see_full(user, org: Organization | None) -> bool:
    """May the user ask for full values of this organisation's members (of any, without org)?"""
    prefixes = selectors.scope_for(user, "member.view_sensitive")
    if org is None:
        return bool(prefixes)
    return any(org.path.startswith(p) for p in prefixes)


@dataclass
class Export:
    user: object
    filter: MemberFilter
    columns: list[Column]
    full: bool = False
    org: Organization | None = None
    params: dict = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        return [c.key for c in self.columns]

    def headers(self) -> list[str]:
        return [c.header for c in self.columns]


def prepare(user, params, keys=None, full: bool = False) -> Export:
    """Check everything before any work starts: filters, columns, the right to full values."""
    f, org = parse_filter(user, params)
    columns = resolve_columns(keys)
    if full and not may_see_full(user, org):
        raise Forbidden(
            _("You may not export full ID and phone numbers here."),
            code="full_values_not_allowed",
            field="full",
        )
    return Export(
        user=user,
        filter=f,
        columns=columns,
        full=bool(full),
        org=org,
        params=filter_params(params or {}),
    )


def _date(value) -> str | None:
    return value.isoformat() if isinstance(value, datetime.date) else None


def _secret(token: str, mask: Callable[[str], str], full: bool) -> str | None:
    if not token:
        return None
    plain = crypto.decrypt(token)
    return plain if full else mask(plain)


def cell_value(member, column: Column, full: bool):
    """The value of one cell, before formula neutralisation (None for an empty cell)."""
    key = column.key
    if key == "id_number":
        return _secret(member.id_number_encrypted, crypto.mask_id_number, full)
    if key == "phone":
        return _secret(member.phone_encrypted, crypto.mask_phone, full)
    if key == "organization":
        return member.organization.name
    if key == "organization_code":
        return member.organization.code
    value = getattr(member, key)
    if column.kind.startswith("code:"):
        return codes.name_of(column.kind[5:], value) or None
    if column.kind == "choice":
        return CHOICE_NAMES[key].get(value, value) or None
    if column.kind == "bool":
        return YES if value else NO
    if column.kind == "date":
        return _date(value)
    return value if value not in (None, "") else None


def row_values(member, columns: list[Column], full: bool) -> list:
    return [cell_value(member, c, full) for c in columns]


def full_paths(user, full: bool) -> list[str]:
    """Path prefixes whose members are exported with full values."""
    return selectors.scope_for(user, "member.view_sensitive") if full else []


def _queryset(user, f: MemberFilter, columns: list[Column]):
    qs = member_list(user, f)
    needed = {"id", "org_path", "organization"}
    for c in columns:
        if c.key == "id_number":
            needed.add("id_number_encrypted")
        elif c.key == "phone":
            needed.add("phone_encrypted")
        elif c.kind != "org":
            needed.add(c.key)
    return qs.only(*needed, "organization__name", "organization__code")


def export_rows(user, f: MemberFilter, columns, full: bool = False) -> Iterator[list]:
    """The values of each row (no header), as written to the file before formula neutralisation.
    Full values only for members where the user holds member.view_sensitive, and only if asked."""
    if isinstance(columns, str) or any(isinstance(c, str) for c in columns or []):
        columns = resolve_columns(columns)
    columns = columns or resolve_columns(None)
    prefixes = full_paths(user, full)
    for member in _queryset(user, f, columns).iterator(chunk_size=2000):
        unmasked = any(member.org_path.startswith(p) for p in prefixes)
        yield row_values(member, columns, unmasked)


def _audit_full(export: Export, obj, rows: int, what: str) -> None:
    prefixes = full_paths(export.user, True)
    if export.org is not None:
        path = export.org.path
    else:
        path = prefixes[0] if len(prefixes) == 1 else ""
    audit.record(
        export.user,
        "member.export_full",
        obj or export.org or export.user,
        after={
            "format": what,
            "filters": export.params,
            "columns": export.keys,
            "rows": rows,
        },
        org_path=path,
        label=_("member roster with full ID and phone numbers"),
    )


def record_full_export(export: Export, rows: int, what: str, obj=None) -> None:
    """The audit event of an export or document that shows full values (obj: the job, the
    member of an information card; default the organisation of the filter)."""
    if export.full:
        _audit_full(export, obj, rows, what)


def _text_cell(sheet, value):
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = "@"
    return cell


def write_xlsx(export: Export, handle, progress=None, job=None) -> int:
    """Write the roster to `handle`; returns the number of rows. `progress(done, total)`."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    qs = _queryset(export.user, export.filter, export.columns)
    total = qs.count()
    if progress:
        progress(0, total)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET_TITLE)
    for i, column in enumerate(export.columns, 1):
        width = WIDE.get(column.key, WIDTHS.get(column.kind.split(":")[0], 14))
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for text in export.headers():
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    text_at = [c.kind in TEXT_KINDS or c.key in TEXT_KEYS for c in export.columns]
    rows = 0
    for rows, values in enumerate(
        export_rows(export.user, export.filter, export.columns, export.full), 1
    ):
        cells = []
        for value, as_text in zip(values, text_at, strict=True):
            value = export_cell(value)
            cells.append(_text_cell(sheet, value) if as_text and value is not None else value)
        sheet.append(cells)
        if progress and rows % 500 == 0:
            progress(rows, total)
    workbook.save(handle)
    if progress:
        progress(rows, max(total, rows))
    record_full_export(export, rows, "xlsx", obj=job)
    return rows


def file_name(export: Export, suffix: str = "xlsx") -> str:
    where = export.org.code if export.org is not None else "all"
    return f"members-{where}-{timezone.localdate():%Y%m%d}.{suffix}"


def start_export(*, actor, params, keys=None, full: bool = False, language: str = ""):
    """Check the input and queue the export job; returns the Job."""
    export = prepare(actor, params, keys, full)
    with transaction.atomic():
        return jobs.start_job(
            actor=actor,
            kind=JOB_KIND,
            title=_("Member roster export"),
            params={
                "filters": export.params,
                "columns": export.keys,
                "full": export.full,
                "language": language,
            },
        )


@jobs.job_kind(JOB_KIND)
def run_export(job, progress):
    from django.utils.translation import override

    with override(job.params.get("language") or "zh-hans"):
        # Checked again: the user's roles may have changed since the job was queued.
        export = prepare(
            job.user,
            job.params.get("filters", {}),
            job.params.get("columns"),
            job.params.get("full", False),
        )

        def report(done, total):
            # The job object is the one the runner saves at the end: keep it in step too.
            job.done, job.total = done, total
            if done == 0:
                progress.total(total)
            progress.advance(done)

        handle = tempfile.TemporaryFile()
        write_xlsx(export, handle, report, job=job)
        handle.seek(0)
        return file_name(export), handle
