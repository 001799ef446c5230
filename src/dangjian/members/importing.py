"""Member import (花名册导入): read a roster (.xlsx, .xls, .ods, .csv), map its columns, check every
row, then write all rows at once or none.

    table = read_table(data, name)             # bytes -> header, rows (BadFile on a bad file)
    mapping = suggest_mapping(table.headers)   # one column key (or "") per source column
    checked = check_rows(table, mapping, actor=..., organization=..., update=False)
    if checked.ok:
        import_rows(checked.rows, actor=..., update=False)   # one transaction

The pages, the API, the `import-members` command and the background job all go through these
functions. The write is bulk: members, their first timeline events and one audit event per member
are inserted at once (PostgreSQL: one streamed COPY per table; other databases: executemany in
batches), then counted again through the actor's scope; a mismatch rolls everything back.

The check has a fast path (lean converters, _fast_parse_id, _fast_clean) that answers only for
clean values and hands everything else to the general code (_convert, parse_id_number,
services.clean_record), so every fault is found and worded by the general code; tests hold
check_rows(fast=True) and check_rows(fast=False) to the same rows. docs/performance.md has the
figures.
"""

import base64
import contextlib
import csv
import datetime
import enum
import gc
import hashlib
import hmac
import io
import json
import operator
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core import audit, codes, context, crypto, idnumber, selectors
from dangjian.core.errors import Conflict, ValidationFailed
from dangjian.core.exports import safe_cell
from dangjian.core.idnumber import InvalidIdNumber, parse_id_number
from dangjian.core.jobs import job_kind
from dangjian.core.models import BRANCH_KINDS, AuditEvent, Organization, OrgStatus
from dangjian.core.text import MOBILE, has_control_characters

try:
    from psycopg import IntegrityError as PgIntegrityError
except ImportError:  # pragma: no cover - psycopg is a dependency

    class PgIntegrityError(Exception):
        pass


from . import rules, services
from . import selectors as member_selectors
from .columns import BY_KEY, COLUMNS
from .exporting import import_text
from .models import Category, EventKind, Member, StandingEvent

MAX_BYTES = 64 * 1024 * 1024
MAX_COLUMNS = 256
MAX_ROWS = 200_000
HEADER_SCAN = 30  # rows searched for the header
BATCH = 5000

IMPORTABLE = [c for c in COLUMNS if c.importable]
IMPORTABLE_KEYS = [c.key for c in IMPORTABLE]
# Columns an update import does not change: they are the Party-standing timeline.
TIMELINE_KEYS = {"category", "joined_on", "full_on", "organization", "organization_code"}
NOTE_PREFIXES = (
    "填表说明",
    "说明",
    "注：",
    "注:",
    "备注：",
    "备注:",
    "合计",
    "总计",
    "小计",
    "制表",
    "填表人",
    "审核人",
    "负责人",
    "联系人：",
)
CATEGORY_WORDS = {
    "正式党员": Category.FULL,
    "正式": Category.FULL,
    "full": Category.FULL,
    "预备党员": Category.PROBATIONARY,
    "预备": Category.PROBATIONARY,
    "probationary": Category.PROBATIONARY,
}
_FULLWIDTH = str.maketrans("０１２３４５６７８９．－／：　（）", "0123456789.-/: ()")
_SPACES = re.compile(r"[\s\u3000\u00a0\ufeff]+")
_EXCEL_EPOCH = datetime.date(1899, 12, 30)
_FLOAT_EXACT = 2**53


@contextlib.contextmanager
def _no_gc():
    """The cyclic garbage collector paused for a bulk step. A 100,000-row table makes a few
    million objects, none of them in cycles; the collector's full passes over them cost about a
    quarter of the check. Reference counting still frees everything; the collector runs again
    afterwards (and at once if it was due)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class BadFile(ValidationFailed):
    """The file cannot be imported at all (format, size, header): nothing is read from it."""

    code = "bad_file"

    def __init__(self, message, *, code: str = "bad_file", field: str = "file"):
        super().__init__(message, code=code, field=field)


class BadMapping(ValidationFailed):
    code = "bad_mapping"

    def __init__(self, message, *, code: str = "bad_mapping"):
        super().__init__(message, code=code, field="mapping")


class CellError(ValueError):
    def __init__(self, message: str, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.code = code


# Reading ---------------------------------------------------------------------------------------


@dataclass
class Table:
    format: str
    headers: list[str]
    header_line: int  # 1-based line of the header in the sheet
    rows: list[tuple[int, list]]  # (1-based line, cells as read, as many as headers)
    notes: list[str] = field(default_factory=list)  # remarks about the file as a whole


def sniff_format(data: bytes, name: str = "") -> str:
    """'xlsx', 'ods', 'xls' or 'csv' from the content (the name only breaks ties)."""
    head = data[:8]
    lower = name.lower()
    if head.startswith(b"PK\x03\x04"):
        if lower.endswith(".ods") or b"application/vnd.oasis.opendocument" in data[:200]:
            return "ods"
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        if (
            "EncryptionInfo".encode("utf-16-le") in data
            or "EncryptedPackage".encode("utf-16-le") in data
        ):
            raise BadFile(
                _("The spreadsheet is protected by a password. Remove the password and try again."),
                code="password_protected",
            )
        return "xls"
    sample = data[:4096]
    if b"\x00" in sample or not sample.strip():
        if not data.strip():
            raise BadFile(_("The file is empty."), code="empty_file")
        raise BadFile(
            _("This is not a spreadsheet. Upload an .xlsx, .xls, .ods or .csv file."),
            code="wrong_format",
        )
    return "csv"


def decode_text(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise BadFile(
        _("The text file is neither UTF-8 nor GB18030 encoded. Save it as CSV UTF-8."),
        code="wrong_encoding",
    )


def _sheet_rows(data: bytes, fmt: str):
    from python_calamine import CalamineError, CalamineWorkbook, PasswordError

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        names = [
            m.name
            for m in book.sheets_metadata
            if str(m.visible).endswith("Visible") and "Worksheet" in str(m.typ)
        ] or book.sheet_names
        sheet = None
        for name in names:
            sheet = book.get_sheet_by_name(name)
            if sheet.height and sheet.width:
                break
    except PasswordError:
        raise BadFile(
            _("The spreadsheet is protected by a password. Remove the password and try again."),
            code="password_protected",
        ) from None
    except (CalamineError, ValueError, OSError, RuntimeError) as exc:
        if "password" in str(exc).lower() or "encrypt" in str(exc).lower():
            raise BadFile(
                _("The spreadsheet is protected by a password. Remove the password and try again."),
                code="password_protected",
            ) from None
        raise BadFile(
            _("The file could not be read as a spreadsheet (%(format)s): it may be damaged.")
            % {"format": fmt},
            code="unreadable",
        ) from None
    if sheet is None or not sheet.height or not sheet.width:
        raise BadFile(_("The spreadsheet is empty."), code="empty_file")
    if sheet.width > MAX_COLUMNS:
        raise BadFile(
            _("The sheet has %(n)s columns; a roster has at most %(max)s.")
            % {"n": sheet.width, "max": MAX_COLUMNS},
            code="too_many_columns",
        )
    if sheet.height > MAX_ROWS + HEADER_SCAN + 50:
        raise BadFile(
            _("The sheet has %(n)s rows; import at most %(max)s at a time.")
            % {"n": sheet.height, "max": MAX_ROWS},
            code="too_many_rows",
        )
    try:
        yield from sheet.iter_rows()
    except (CalamineError, ValueError) as exc:
        raise BadFile(
            _("The file could not be read as a spreadsheet (%(format)s): it may be damaged.")
            % {"format": fmt},
            code="unreadable",
        ) from exc


def _csv_rows(data: bytes):
    text = decode_text(data)
    sample = text[:8192]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    csv.field_size_limit(1_000_000)
    try:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            if len(row) > MAX_COLUMNS:
                raise BadFile(
                    _("The sheet has %(n)s columns; a roster has at most %(max)s.")
                    % {"n": len(row), "max": MAX_COLUMNS},
                    code="too_many_columns",
                )
            yield row
    except csv.Error:
        raise BadFile(_("The CSV file is malformed."), code="unreadable") from None


def header_key(text) -> str:
    """Normalise a header cell: no spaces, no marks of required fields, no notes in brackets."""
    value = _SPACES.sub("", str(text or "")).translate(_FULLWIDTH)
    value = re.sub(r"\(.*?\)|【.*?】|\[.*?\]", "", value)
    return value.strip("*＊:：").lower()


_HEADER_INDEX: dict[str, str] = {}
for _column in IMPORTABLE:
    for _text in (_column.header, *_column.synonyms, _column.key):
        _HEADER_INDEX.setdefault(header_key(_text), _column.key)


def suggest_mapping(headers: list[str]) -> list[str]:
    """The column key for each source header ('' where none is recognised; each key once)."""
    used: set[str] = set()
    mapping = []
    for text in headers:
        key = _HEADER_INDEX.get(header_key(text), "")
        if key in used:
            key = ""
        used.add(key)
        mapping.append(key)
    return mapping


def _is_blank(cell) -> bool:
    """None, or text of spaces only (any Unicode space, the ideographic one, a BOM)."""
    if cell is None:
        return True
    if isinstance(cell, str):
        # str.strip() removes exactly what the regex's \s matches; only a BOM is left to look at.
        text = cell.strip()
        return not text or ("\ufeff" in text and not _SPACES.sub("", text))
    return False


def _is_note(cells: list) -> bool:
    filled = []
    for cell in cells:
        if not _is_blank(cell):
            filled.append(cell)
            if len(filled) > 3:
                return False  # a data row: notes fill one to three cells
    if not filled or not isinstance(filled[0], str):
        return False
    first = _SPACES.sub("", filled[0]).translate(_FULLWIDTH)
    return first.startswith(NOTE_PREFIXES)


def _cell_text(cell) -> str:
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    return str(cell).strip() if cell is not None else ""


@_no_gc()
def read_table(data: bytes, name: str = "") -> Table:
    """Read the first non-empty sheet: find the header row, keep the data rows up to a note."""
    if not data:
        raise BadFile(_("The file is empty."), code="empty_file")
    if len(data) > MAX_BYTES:
        raise BadFile(
            _("The file is larger than %(mb)s MB.") % {"mb": MAX_BYTES // (1024 * 1024)},
            code="too_large",
        )
    fmt = sniff_format(data, name)
    rows = _csv_rows(data) if fmt == "csv" else _sheet_rows(data, fmt)
    head: list[tuple[int, list]] = []
    line = 0
    for cells in rows:
        line += 1
        if not all(_is_blank(c) for c in cells):
            head.append((line, list(cells)))
        if len(head) >= HEADER_SCAN:
            break
    if not head:
        raise BadFile(_("The file is empty."), code="empty_file")
    best, best_score = None, 0
    for index, (_line, cells) in enumerate(head):
        keys = {k for k in suggest_mapping([_cell_text(c) for c in cells]) if k}
        if len(keys) > best_score:
            best, best_score = index, len(keys)
    if best is None:
        raise BadFile(
            _(
                "No column of the file is one we know. The header row should name columns such "
                "as 姓名, 公民身份号码, 入党日期."
            ),
            code="no_known_columns",
        )
    header_line, header_cells = head[best]
    while header_cells and _is_blank(header_cells[-1]):
        header_cells.pop()
    headers = [_cell_text(c) for c in header_cells]
    width = len(headers)
    table = Table(format=fmt, headers=headers, header_line=header_line, rows=[])

    def take(line_no, cells):
        if all(_is_blank(c) for c in cells):
            return True
        if _is_note(cells):
            text = next(_cell_text(c) for c in cells if not _is_blank(c))
            table.notes.append(
                _("Reading stopped at line %(line)s: “%(text)s”.")
                % {"line": line_no, "text": text[:40]}
            )
            return False
        if len(table.rows) >= MAX_ROWS:
            raise BadFile(
                _("The file has more than %(max)s rows; import at most %(max)s at a time.")
                % {"max": MAX_ROWS},
                code="too_many_rows",
            )
        cells = list(cells[:width])
        if len(cells) < width:
            cells += [""] * (width - len(cells))
        table.rows.append((line_no, cells))
        return True

    going = True
    for line_no, cells in head[best + 1 :]:
        if not take(line_no, cells):
            going = False
            break
    if going:
        for cells in rows:
            line += 1
            if not take(line, cells):
                break
    if not table.rows:
        raise BadFile(_("The file has a header row but no data rows."), code="no_rows")
    return table


# Values ----------------------------------------------------------------------------------------


class MonthDate(datetime.date):
    """A date written to the month only ("2019/07", "201907"): the first of that month."""


def parse_date(value) -> datetime.date | None:
    """Dates as people type them in rosters. None for a blank cell; CellError when unreadable.
    A month without a day gives a MonthDate (the first of the month)."""
    if _is_blank(value):
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, bool):
        raise CellError(_("“%(value)s” is not a date.") % {"value": value}, "invalid_date")
    if isinstance(value, int | float):
        if float(value).is_integer():
            number = int(value)
            if 19000101 <= number <= 21001231:
                return _ymd(number // 10000, number // 100 % 100, number % 100, value)
            if 190001 <= number <= 210012:
                return _month(_ymd(number // 100, number % 100, 1, value))
        if 1 <= value < 80000:  # an Excel date serial (1900 system)
            return _EXCEL_EPOCH + datetime.timedelta(days=int(value))
        raise CellError(_("“%(value)s” is not a date.") % {"value": value}, "invalid_date")
    text = _SPACES.sub(" ", str(value)).strip().translate(_FULLWIDTH)
    text = re.sub(r"[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$", "", text).strip()
    patterns = (
        (r"(\d{4})\s*[年.\-/]\s*(\d{1,2})\s*[月.\-/]\s*(\d{1,2})\s*日?", (1, 2, 3)),
        (r"(\d{4})\s*[年.\-/]\s*(\d{1,2})\s*月?", (1, 2, None)),
        (r"(\d{4})(\d{2})(\d{2})", (1, 2, 3)),
        (r"(\d{4})(\d{2})", (1, 2, None)),
    )
    for pattern, (y, m, d) in patterns:
        found = re.fullmatch(pattern, text)
        if found:
            day = int(found.group(d)) if d else 1
            date = _ymd(int(found.group(y)), int(found.group(m)), day, value)
            return date if d else _month(date)
    if re.fullmatch(r"\d{1,5}(\.0+)?", text):
        return _EXCEL_EPOCH + datetime.timedelta(days=int(float(text)))
    raise CellError(_("“%(value)s” is not a date.") % {"value": value}, "invalid_date")


def _month(date: datetime.date) -> MonthDate:
    return MonthDate(date.year, date.month, 1)


def _ymd(year, month, day, original) -> datetime.date:
    try:
        found = datetime.date(year, month, day)
    except ValueError:
        raise CellError(
            _("“%(value)s” is not a real date.") % {"value": original}, "invalid_date"
        ) from None
    if found.year < 1900:
        raise CellError(_("“%(value)s” is not a plausible date.") % {"value": original})
    return found


def id_number_text(value) -> str:
    """The ID number as text. A number that lost digits in a spreadsheet is refused."""
    if _is_blank(value):
        return ""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < _FLOAT_EXACT:
            return str(int(value))
        raise CellError(
            _(
                "The ID number was stored as a number and has lost its last digits (%(value)s). "
                "Format the column as text and enter the number again."
            )
            % {"value": f"{value:.15g}"},
            "id_precision_lost",
        )
    if isinstance(value, int):
        return str(value)
    text = _SPACES.sub("", str(value)).translate(_FULLWIDTH).lstrip("'‘’`")
    if re.fullmatch(r"\d(\.\d+)?[eE]\+?\d+", text):
        raise CellError(
            _(
                "The ID number was stored as a number and has lost its last digits (%(value)s). "
                "Format the column as text and enter the number again."
            )
            % {"value": text},
            "id_precision_lost",
        )
    return text


def plain_text(value) -> str:
    if _is_blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if not value.time() else value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    # One leading apostrophe is a spreadsheet's "this is text" mark (our exports write it before
    # anything a spreadsheet would run as a formula, and double a real one): it is not data.
    return import_text(str(value).strip())


def code_value(value):
    if _is_blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _SPACES.sub("", str(value))


def category_value(value) -> str:
    if _is_blank(value):
        return ""
    text = _SPACES.sub("", str(value)).lower()
    if text in CATEGORY_WORDS:
        return CATEGORY_WORDS[text]
    raise CellError(
        _("Unknown value %(value)s (write 正式党员 or 预备党员).") % {"value": value},
        "unknown_category",
    )


def _max_lengths() -> dict[str, int]:
    found = {}
    for name in services.RECORD_FIELDS:
        length = Member._meta.get_field(name).max_length
        if length:
            found[name] = length
    return found


MAX_LENGTHS = _max_lengths()


# Checking --------------------------------------------------------------------------------------


@dataclass
class Problem:
    column: str  # the header as written in the file (Chinese)
    field: str  # column key
    code: str
    message: str

    def as_dict(self) -> dict:
        return {
            "column": self.column,
            "field": self.field,
            "code": self.code,
            "message": self.message,
        }

    def __str__(self) -> str:
        return f"{self.column}：{self.message}" if self.column else self.message


@dataclass(slots=True)
class Row:
    line: int
    cells: list
    data: dict = field(default_factory=dict)  # clean values after checking
    given: set = field(default_factory=set)  # keys with a non-blank cell
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    organization: Organization | None = None
    id_hash: str = ""
    existing: Member | None = None  # update imports: the recorded member
    parsed: object = field(default=None, repr=False)  # the IdNumber, once read

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        return {
            "line": self.line,
            "name": str(self.data.get("name") or ""),
            "action": "update" if self.existing is not None else "create",
            "errors": [p.as_dict() for p in self.errors],
            "warnings": [p.as_dict() for p in self.warnings],
        }


@dataclass
class Checked:
    rows: list[Row]
    headers: list[str]
    mapping: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def error_rows(self) -> list[Row]:
        return [r for r in self.rows if r.errors]

    @property
    def ok(self) -> bool:
        return bool(self.rows) and not any(r.errors for r in self.rows)

    def summary(self, limit: int = 500) -> dict:
        errors = sum(1 for r in self.rows if r.errors)
        warnings = sum(1 for r in self.rows if r.warnings and not r.errors)
        updates = sum(1 for r in self.rows if r.existing is not None and not r.errors)
        by_code: dict[str, int] = {}
        for row in self.rows:
            for p in row.errors:
                by_code[p.code] = by_code.get(p.code, 0) + 1
        problems = [r.as_dict() for r in self.rows if r.errors or r.warnings][:limit]
        return {
            "rows": len(self.rows),
            "valid": len(self.rows) - errors,
            "error_rows": errors,
            "warning_rows": warnings,
            "creates": len(self.rows) - errors - updates,
            "updates": updates,
            "error_codes": by_code,
            "notes": list(self.notes),
            "problems": problems,
            "problems_shown": len(problems),
        }


def check_mapping(headers: list[str], mapping: list[str], *, update: bool = False) -> list[str]:
    """Validate a mapping chosen by the user; returns it padded to the headers' length."""
    if not isinstance(mapping, list) or len(mapping) > len(headers):
        raise BadMapping(_("The mapping does not fit the columns of the file."))
    mapping = [str(k or "") for k in mapping] + [""] * (len(headers) - len(mapping))
    seen: dict[str, int] = {}
    for index, key in enumerate(mapping):
        if not key:
            continue
        if key not in BY_KEY or not BY_KEY[key].importable:
            raise BadMapping(_("Unknown column %(key)s.") % {"key": key})
        if key in seen:
            raise BadMapping(
                _("Two columns (%(a)s, %(b)s) are mapped to “%(column)s”.")
                % {"a": headers[seen[key]], "b": headers[index], "column": BY_KEY[key].header},
                code="duplicate_column",
            )
        seen[key] = index
    needed = ["id_number"] if update else ["name", "id_number"]
    missing = [BY_KEY[k].header for k in needed if k not in seen]
    if missing:
        raise BadMapping(
            _("No column is mapped to %(columns)s.") % {"columns": "、".join(missing)},
            code="missing_column",
        )
    return mapping


def _convert(key: str, value):
    kind = BY_KEY[key].kind
    if key == "id_number":
        return id_number_text(value)
    if key == "category":
        return category_value(value)
    if kind == "date":
        return parse_date(value)
    if key == "ethnicity":
        text = code_value(value)
        if (
            text
            and codes.lookup("ethnicity", text) is None
            and codes.lookup("ethnicity", text + "族")
        ):
            return text + "族"  # "汉" (codes.lookup knows the short form of longer names only)
        return text
    if kind.startswith("code:"):
        return code_value(value)
    text = plain_text(value)
    limit = MAX_LENGTHS.get(key)
    if limit and len(text) > limit:
        raise CellError(
            _("At most %(n)s characters (this has %(m)s).") % {"n": limit, "m": len(text)},
            "too_long",
        )
    return text


# The check's fast path. Each function below gives exactly what the general function it stands
# for gives (the reference: `_convert`, `parse_id_number`, `services.clean_record`); it handles the
# common, well-formed values itself and hands everything else to the reference, so faults are
# always found, and worded, by the reference code. tests/members/test_import_fast.py holds both
# to the same answers on a table of good and bad rows.

_ISO_LIKE_DATE = re.compile(r"([0-9]{4})[年.\-/]([0-9]{1,2})[月.\-/]([0-9]{1,2})日?")
_MEMO_LIMIT = 5000  # distinct values remembered per coded column


def _fast_date(value):
    kind = type(value)
    if kind is str:
        found = _ISO_LIKE_DATE.fullmatch(value)
        if found:  # the reference's first pattern matches the same groups
            return _ymd(int(found[1]), int(found[2]), int(found[3]), value)
    elif kind is datetime.date:
        return value
    return parse_date(value)


def _fast_id_text(value):
    if type(value) is str and value.isascii() and value.isalnum() and value[:-1].isdigit():
        if value[-1].isdigit() or value[-1] == "X":
            return value  # digits (and a final X): nothing for id_number_text to change
    return id_number_text(value)


def _cell_converter(key: str) -> Callable:
    """A function equal to `_convert(key, value)` for a non-blank value (errors included)."""
    kind = BY_KEY[key].kind
    if key == "id_number":
        return _fast_id_text
    if kind == "date" and key != "category":  # _convert looks at the key "category" first
        return _fast_date
    if key == "category" or key == "ethnicity" or kind.startswith("code:"):
        memo: dict = {}

        def coded(value):
            try:
                return memo[type(value), value]
            except KeyError:
                pass
            except TypeError:  # unhashable
                return _convert(key, value)
            converted = _convert(key, value)  # raises CellError: not remembered
            if len(memo) < _MEMO_LIMIT:
                memo[type(value), value] = converted
            return converted

        return coded
    limit = MAX_LENGTHS.get(key)

    def text(value):
        if type(value) is str:
            stripped = value.strip()
            if (not limit or len(stripped) <= limit) and not stripped.startswith("'"):
                return stripped
        return _convert(key, value)

    return text


def _fast_parse_id(number: str, today: datetime.date):
    """parse_id_number(number, today=today) for a number in its usual form (18 ASCII digits, or
    17 and an X), checked here; anything else goes to parse_id_number (which raises)."""
    if (
        len(number) == 18
        and number.isascii()
        and number[:17].isdigit()
        and (number[17].isdigit() or number[17] == "X")
        and int(number[:2]) in idnumber.PROVINCES
    ):
        try:
            birth = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        except ValueError:
            birth = None
        if birth is not None and birth <= today and birth.year >= 1880:
            total = sum(map(operator.mul, map(int, number[:17]), idnumber.WEIGHTS))
            if idnumber.CHECK_CHARS[total % 11] == number[17]:
                return idnumber.IdNumber(
                    number=number,
                    birth_date=birth,
                    sex=1 if int(number[16]) % 2 else 2,
                    region=number[:6],
                )
    return parse_id_number(number, today=today)


_CODED_FIELDS = ("sex", "ethnicity", "education", "job_category")
_RECORD_DATES = ("birth_date", "joined_on", "full_on", "work_started_on")
_WHITESPACE = re.compile(r"\s+")


def _fast_clean(data: dict, parsed, today: datetime.date, memo: dict) -> dict | None:
    """services.clean_record(data, today=today) for a new member whose ID number parsed to
    `parsed`, when the record has no fault; None when it may have one (then the caller runs
    clean_record, which words the faults). Same steps, in the same order, without messages."""
    out = data
    name = out.get("name")
    if type(name) is not str:
        return None
    if not name.isalnum():
        name = _WHITESPACE.sub("", name)
    if not name or len(name) > 64:
        return None
    out["name"] = name
    if parsed is None or out.get("id_number") != parsed.number:
        return None
    if not out.get("birth_date"):
        out["birth_date"] = parsed.birth_date
    if not out.get("sex"):
        out["sex"] = str(parsed.sex)
    for name in _CODED_FIELDS:
        if name in out:
            value = out[name]
            if value in (None, ""):
                if name == "ethnicity":
                    out[name] = codes.HAN
                elif name == "sex":
                    return None
                else:
                    out[name] = ""
                continue
            try:
                code = memo[name, type(value), value]
            except KeyError:
                code = memo[name, type(value), value] = codes.lookup(name, value)
            if code is None:
                return None
            out[name] = code
        elif name == "ethnicity":
            out[name] = codes.HAN
    for name in _RECORD_DATES:
        value = out.get(name)
        if isinstance(value, datetime.date) and value > today:
            return None
    for name, limit in services._MAX_LENGTHS.items():
        value = out.get(name)
        if isinstance(value, str) and len(value) > limit:
            return None
    for value in out.values():
        if type(value) is str and has_control_characters(value, lines=True):
            return None
    if not out.get("joined_on") or not out.get("birth_date"):
        return None
    if out.get("category") not in (Category.FULL, Category.PROBATIONARY):
        out["category"] = Category.FULL if out.get("full_on") else Category.PROBATIONARY
    if "phone" in out:
        phone = services.normalise_phone(out["phone"])
        if phone and not MOBILE.match(phone):
            return None
        out["phone"] = phone
    if rules.record_problems(
        birth_date=out.get("birth_date"),
        sex=out.get("sex"),
        id_birth=parsed.birth_date,
        id_sex=parsed.sex,
        joined_on=out.get("joined_on"),
        full_on=out.get("full_on"),
        category=out.get("category"),
    ):
        return None
    return out


_IN_STEP = {False: 20_000, True: 400_000}  # values per IN list: other databases, PostgreSQL


def _in_values(values: list, sql_type: str):
    """The right side of a `field__in` lookup for many values. PostgreSQL: one array parameter
    (Django and psycopg take longer to build and parse a 5,000-placeholder IN list than the
    server takes to run it); other databases: the list itself."""
    if connection.vendor == "postgresql":
        # One text parameter split by the server: adapting a 100,000-item list takes psycopg
        # a quarter of a second. The values are numbers or hex digests (no commas).
        text = ",".join(map(str, values))
        return RawSQL(  # noqa: S611
            f"SELECT unnest(string_to_array(%s, ','))::{sql_type}", [text]
        )
    return values


def _resolve_orgs(actor, values: set[str]) -> dict[str, Organization | None | str]:
    """Code or name (as written) -> organisation in the actor's scope, None, or 'ambiguous'."""
    if not values:
        return {}
    upper = {v.upper() for v in values}
    found = (
        selectors.restrict(Organization.objects.all(), actor, "member.change")
        .annotate(ucode=Upper("code"))
        .filter(Q(ucode__in=upper) | Q(name__in=values) | Q(short_name__in=values))
    )
    by_code: dict[str, Organization] = {}
    by_name: dict[str, list[Organization]] = {}
    for org in found:
        by_code[org.code.upper()] = org
        by_name.setdefault(org.name, []).append(org)
        if org.short_name and org.short_name != org.name:
            by_name.setdefault(org.short_name, []).append(org)
    answer: dict[str, Organization | None | str] = {}
    for value in values:
        if value.upper() in by_code:
            answer[value] = by_code[value.upper()]
        elif len(by_name.get(value, [])) == 1:
            answer[value] = by_name[value][0]
        elif by_name.get(value):
            answer[value] = "ambiguous"
        else:
            answer[value] = None
    return answer


def _org_problem(org: Organization) -> tuple[str, str] | None:
    if org.status != OrgStatus.ACTIVE:
        return "organization_dissolved", _("The organisation %(name)s is dissolved.") % {
            "name": org.name
        }
    if org.kind not in BRANCH_KINDS:
        return "not_a_branch", _(
            "%(name)s is not a branch: members belong to a branch or joint branch."
        ) % {"name": org.name}
    return None


@_no_gc()
def check_rows(
    table: Table,
    mapping: list[str],
    *,
    actor,
    organization: Organization | None,
    update: bool = False,
    today: datetime.date | None = None,
    progress: Callable[[int, int], None] | None = None,
    fast: bool = True,
) -> Checked:
    """Convert and check every row; nothing is written. Each row gets its errors and warnings.

    `fast=False` checks every new member with services.clean_record (the reference); the fast
    path gives the same rows, errors and warnings (see _fast_clean)."""
    today = today or timezone.localdate()
    mapping = check_mapping(table.headers, mapping, update=update)
    columns = [(i, k) for i, k in enumerate(mapping) if k]
    header_of = {k: table.headers[i] or BY_KEY[k].header for i, k in columns}

    def column(key):
        return header_of.get(key) or BY_KEY[key].header if key in BY_KEY else ""

    checked = Checked(rows=[], headers=table.headers, mapping=mapping, notes=list(table.notes))
    if update and any(k in TIMELINE_KEYS for _i, k in columns):
        names = "、".join(header_of[k] for _i, k in columns if k in TIMELINE_KEYS)
        checked.notes.append(
            _(
                "An update import does not change %(columns)s: they follow the Party-standing "
                "timeline; change them on the member's page."
            )
            % {"columns": names}
        )
    org_values: set[str] = set()
    default_problem = _org_problem(organization) if organization is not None else None
    _encrypt, keyed_hash = _secrets()
    memo: dict = {}  # codes.lookup answers for the fast path
    messages: dict = {}  # warnings, worded once

    # 1. Convert the cells, normalise the ID number.
    converters = [(index, key, _cell_converter(key)) for index, key in columns]
    for line, cells in table.rows:
        row = Row(line=line, cells=cells)
        data = row.data
        for index, key, convert in converters:
            value = cells[index]
            if value is None:
                continue
            if type(value) is str:  # _is_blank, inlined: this runs for every cell
                stripped = value.strip()
                if not stripped or ("\ufeff" in stripped and not _SPACES.sub("", stripped)):
                    continue
            elif _is_blank(value):
                continue
            try:
                converted = convert(value)
            except CellError as exc:
                row.errors.append(Problem(column(key), key, exc.code, exc.message))
                continue
            if converted in ("", None):
                continue
            data[key] = converted
        row.given = set(data)
        for key in ("organization_code", "organization"):
            if key in data:
                org_values.add(data[key])
                break
        number = data.get("id_number")
        if number:
            try:
                parsed = _fast_parse_id(number, today)
            except InvalidIdNumber as exc:
                message = services.id_number_message(exc)
                if exc.code == "check" and re.fullmatch(r"\d{15}0{3}", number):
                    message = _(
                        "The number ends in 000: it was probably stored as a number in the "
                        "spreadsheet and lost its last digits. Format the column as text and "
                        "enter it again."
                    )
                    code = "id_precision_lost"
                else:
                    code = "invalid_id_number"
                row.errors.append(Problem(column("id_number"), "id_number", code, message))
                row.data.pop("id_number")
            else:
                if len(number) != 18 and len(re.sub(r"\D", "", number)) == 15:
                    row.warnings.append(
                        Problem(
                            column("id_number"),
                            "id_number",
                            "old_id_number",
                            _("Old 15-digit number converted to %(n)s.") % {"n": parsed.number},
                        )
                    )
                row.data["id_number"] = parsed.number
                row.parsed = parsed
                row.id_hash = keyed_hash(parsed.number)
                birth = row.data.get("birth_date")
                if isinstance(birth, MonthDate) and (birth.year, birth.month) == (
                    parsed.birth_date.year,
                    parsed.birth_date.month,
                ):
                    row.data["birth_date"] = parsed.birth_date  # the day from the ID number

        elif not any(p.field == "id_number" for p in row.errors):
            row.errors.append(
                Problem(column("id_number"), "id_number", "required", _("Enter the ID number."))
            )
        checked.rows.append(row)
    if progress:
        progress(len(checked.rows) // 3, len(checked.rows))

    # 2. Organisations, in one query.
    orgs = _resolve_orgs(actor, org_values)

    # 3. ID numbers: twice in the file, already recorded (in bulk).
    first_line: dict[str, int] = {}
    for row in checked.rows:
        if not row.id_hash:
            continue
        if row.id_hash in first_line:
            row.errors.append(
                Problem(
                    column("id_number"),
                    "id_number",
                    "duplicate_in_file",
                    _("The same ID number is on line %(line)s.")
                    % {"line": first_line[row.id_hash]},
                )
            )
        else:
            first_line[row.id_hash] = row.line
    recorded: dict[str, tuple[int, str]] = {}
    hashes = list(first_line)
    step = _IN_STEP[connection.vendor == "postgresql"] // 4
    for start in range(0, len(hashes), step):
        chunk = _in_values(hashes[start : start + step], "text")
        for pk, digest, path in Member.objects.filter(id_number_hash__in=chunk).values_list(
            "pk", "id_number_hash", "org_path"
        ):
            recorded[digest] = (pk, path)
    editable: dict[int, Member] = {}
    if update and recorded:
        pks = [pk for pk, _path in recorded.values()]
        for start in range(0, len(pks), BATCH):
            for member in member_selectors.members(actor, "member.change").filter(
                pk__in=pks[start : start + BATCH]
            ):
                editable[member.pk] = member
    if progress:
        progress(len(checked.rows) // 2, len(checked.rows))

    # 4. Each row: organisation, the record's own rules (services.clean_record).
    for row in checked.rows:
        found = recorded.get(row.id_hash) if row.id_hash else None
        if found is not None and not any(p.code == "duplicate_in_file" for p in row.errors):
            if update and found[0] in editable:
                row.existing = editable[found[0]]
            elif update:
                row.errors.append(
                    Problem(
                        column("id_number"),
                        "id_number",
                        "recorded_elsewhere",
                        _("This ID number is recorded in an organisation you may not change."),
                    )
                )
            else:
                in_target = (
                    organization is not None
                    and found[1] == organization.path
                    and not ({"organization", "organization_code"} & row.given)
                )
                row.errors.append(
                    Problem(
                        column("id_number"),
                        "id_number",
                        "already_recorded" if in_target else "recorded_elsewhere",
                        _("This member is already recorded here; use an update import.")
                        if in_target
                        else _("This ID number is already recorded in another organisation."),
                    )
                )
        if row.existing is not None:
            _check_update(row, column, today)
            continue
        if found is not None:
            continue  # recorded already: the error says so, the rest does not matter
        # Organisation of a new member.
        org_text = row.data.get("organization_code") or row.data.get("organization")
        org_key = "organization_code" if row.data.get("organization_code") else "organization"
        if org_text:
            org = orgs.get(org_text)
            if org is None:
                row.errors.append(
                    Problem(
                        column(org_key),
                        org_key,
                        "unknown_organization",
                        _("No organisation %(text)s in your scope.") % {"text": org_text},
                    )
                )
            elif org == "ambiguous":
                row.errors.append(
                    Problem(
                        column(org_key),
                        org_key,
                        "ambiguous_organization",
                        _("Several organisations are called %(text)s; use the code.")
                        % {"text": org_text},
                    )
                )
            else:
                problem = _org_problem(org)
                if problem:
                    row.errors.append(Problem(column(org_key), org_key, *problem))
                else:
                    row.organization = org
        elif organization is None:
            row.errors.append(
                Problem(
                    BY_KEY["organization"].header,
                    "organization",
                    "required",
                    _("Choose the organisation."),
                )
            )
        elif default_problem:
            row.errors.append(
                Problem(BY_KEY["organization"].header, "organization", *default_problem)
            )
        else:
            row.organization = organization
        if fast and not row.errors:
            clean = _fast_clean(_record_data(row, _CREATE_KEYS), row.parsed, today, memo)
            if clean is not None:
                _add_create_warnings(row, clean, column, messages)
                row.data = clean
                continue
        _check_create(row, column, today)
    if progress:
        progress(len(checked.rows), len(checked.rows))
    return checked


def _record_data(row: Row, keys) -> dict:
    return {k: row.data[k] for k in keys if k in row.data}


_CREATE_KEYS = [*services.RECORD_FIELDS, "id_number", "phone", "category", "joined_on", "full_on"]
_UPDATE_KEYS = [*services.RECORD_FIELDS, "phone"]


def _add_record_errors(row: Row, exc: services.RecordInvalid, column) -> None:
    failed = {p.field for p in row.errors}
    for key, messages in exc.errors.items():
        if key in failed:
            continue  # the cell was already unreadable: one message is enough
        code = exc.codes.get(key, "invalid")
        for message in messages:
            row.errors.append(Problem(column(key), key, code, str(message)))


def _check_create(row: Row, column, today) -> None:
    data = _record_data(row, _CREATE_KEYS)
    failed = {p.field for p in row.errors}
    for key in failed & set(_CREATE_KEYS):
        data.pop(key, None)
    if "id_number" in failed:
        data["id_number"] = ""
    try:
        clean = services.clean_record(data, today=today)
    except services.RecordInvalid as exc:
        if "id_number" in failed:
            exc.errors.pop("id_number", None)
        _add_record_errors(row, exc, column)
        return
    if row.errors:
        return
    for key, message in (
        ("birth_date", _("Taken from the ID number.")),
        ("sex", _("Taken from the ID number.")),
    ):
        if key not in row.given:
            row.warnings.append(Problem(column(key), key, "from_id_number", message))
    if "category" not in row.given:
        row.warnings.append(
            Problem(
                column("category"),
                "category",
                "category_inferred",
                _("Recorded as %(category)s (from the date of becoming full).")
                % {"category": Category(clean["category"]).label},
            )
        )
    row.data = clean


def _add_create_warnings(row: Row, clean: dict, column, messages: dict) -> None:
    """The warnings of _check_create for a clean new member (messages worded once a check)."""
    given = row.given
    if "birth_date" not in given or "sex" not in given:
        if "from_id" not in messages:
            messages["from_id"] = _("Taken from the ID number.")
        for key in ("birth_date", "sex"):
            if key not in given:
                row.warnings.append(
                    Problem(column(key), key, "from_id_number", messages["from_id"])
                )
    if "category" not in given:
        category = clean["category"]
        if category not in messages:
            messages[category] = _("Recorded as %(category)s (from the date of becoming full).") % {
                "category": Category(category).label
            }
        row.warnings.append(
            Problem(column("category"), "category", "category_inferred", messages[category])
        )


def _check_update(row: Row, column, today) -> None:
    data = _record_data(row, _UPDATE_KEYS)
    failed = {p.field for p in row.errors}
    for key in failed:
        data.pop(key, None)
    if not data:
        row.warnings.append(
            Problem("", "", "nothing_to_change", _("No column to change for this member."))
        )
        row.data = {"name": row.existing.name}
        return
    try:
        clean = services.clean_record(data, instance=row.existing, today=today)
    except services.RecordInvalid as exc:
        _add_record_errors(row, exc, column)
        return
    clean.setdefault("name", row.existing.name)
    row.data = clean


# Writing ---------------------------------------------------------------------------------------


@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    member_ids: list[int] = field(default_factory=list)


class ScopeMismatch(ValidationFailed):
    code = "scope_mismatch"


def _audit_after(values: dict, id_number: str, phone: str) -> dict:
    after = {}
    for name in services.RECORD_FIELDS:
        after[name] = values.get(name)
    after["organization"] = values["organization_id"]
    for name in services.DERIVED_FIELDS[1:]:
        after[name] = values.get(name)
    for name, value in after.items():
        if isinstance(value, datetime.date):
            after[name] = value.isoformat()
    after["id_number"] = crypto.mask_id_number(id_number)
    after["phone"] = crypto.mask_phone(phone) if phone else ""
    return after


def _member_columns() -> tuple[list, dict]:
    fields = [f for f in Member._meta.concrete_fields if not f.primary_key]
    return fields, {f.attname: f.get_default() for f in fields}


_INITIALS_CACHE: dict[str, str] = {}


def _initials(name: str) -> str:
    """services.name_initials, computed character by character with a cache (pypinyin costs
    about 100 µs a name; a roster has a few thousand distinct characters)."""
    letters = []
    for char in name:
        found = _INITIALS_CACHE.get(char)
        if found is None:
            found = services.name_initials(char)
            _INITIALS_CACHE[char] = found
        letters.append(found)
    return "".join(letters)[:32]


def import_rows(
    rows: list[Row],
    *,
    actor,
    update: bool = False,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = BATCH,
) -> Outcome:
    """Write checked rows, all or nothing: members, their first events and audit events in bulk.

    Rows must come from `check_rows` without errors. After the write the new and changed members
    are counted again through the actor's scope (member.change); a mismatch rolls back."""
    if any(r.errors for r in rows):
        raise ValidationFailed(_("Rows with errors cannot be imported."), code="rows_invalid")
    creates = [r for r in rows if r.existing is None]
    updates = [r for r in rows if r.existing is not None]
    total = len(rows)
    try:
        return _import_rows(creates, updates, actor, progress, total, batch_size)
    except (IntegrityError, PgIntegrityError):
        raise Conflict(
            _("An ID number of the file was recorded meanwhile; nothing was imported."),
            code="duplicate_id_number",
            field="id_number",
        ) from None


@_no_gc()
def _import_rows(creates, updates, actor, progress, total, batch_size) -> Outcome:
    outcome = Outcome()
    with transaction.atomic():
        if creates:
            ids = _create_members(creates, actor, progress, total, batch_size)
            outcome.created = len(ids)
            outcome.member_ids += ids
        if updates:
            ids = _update_members(updates, actor, batch_size)
            outcome.updated = len(ids)
            outcome.member_ids += ids
        visible = 0
        scope = member_selectors.members(actor, "member.change")
        step = _IN_STEP[connection.vendor == "postgresql"]
        for start in range(0, len(outcome.member_ids), step):
            chunk = outcome.member_ids[start : start + step]
            if chunk == list(range(chunk[0], chunk[0] + len(chunk))):  # the usual case: a run
                visible += scope.filter(pk__gte=chunk[0], pk__lte=chunk[-1]).count()
            else:
                visible += scope.filter(pk__in=_in_values(chunk, "bigint")).count()
        if visible != len(outcome.member_ids):
            raise ScopeMismatch(
                _("Some rows would land outside your organisations; nothing was imported.")
            )
        if progress:
            progress(total, total)
    return outcome


def _secrets():
    """(encrypt, keyed_hash): crypto.encrypt and crypto.keyed_hash with the keys looked up once
    (reading settings.DATA_KEY for each of 300,000 values costs more than the AES-GCM itself).
    Same algorithms and output format as dangjian.core.crypto; tests compare them."""
    from django.conf import settings

    aead, mac = crypto._keys(settings.DATA_KEY)
    prefix = f"{crypto.VERSION}:"
    seal = aead.encrypt
    random = os.urandom
    b64 = base64.b64encode
    new_mac = hmac.new
    sha256 = hashlib.sha256

    def encrypt(plain: str) -> str:
        nonce = random(12)
        return prefix + b64(nonce + seal(nonce, plain.encode(), None)).decode()

    def keyed_hash(value: str) -> str:
        return new_mac(mac, value.encode(), sha256).hexdigest()

    return encrypt, keyed_hash


def _json_value(value) -> str:
    """One value as json.dumps(..., ensure_ascii=False) writes it (dates as ISO text)."""
    if value is None:
        return "null"
    if type(value) is str:
        return _encode_json_str(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, datetime.date):
        return '"' + value.isoformat() + '"'
    return json.dumps(value, ensure_ascii=False)


_encode_json_str = json.encoder.encode_basestring  # the C encoder, as json.dumps uses


def _create_members(rows: list[Row], actor, progress, total, batch_size) -> list[int]:
    if connection.vendor == "postgresql":
        return _copy_members(rows, actor, progress, total)
    return _insert_members(rows, actor, progress, total, batch_size)


def _insert_members(rows: list[Row], actor, progress, total, batch_size) -> list[int]:
    """Any database: members, events and audit events through _insert, batch by batch (the
    reference for _copy_members, which writes the same rows)."""
    fields, defaults = _member_columns()
    now = timezone.now()
    user_id = actor.pk if getattr(actor, "pk", None) else None
    member_values = []
    secrets = []
    for row in rows:
        d = row.data
        org = row.organization
        values = dict(defaults)
        for name in services.RECORD_FIELDS:
            if name in d and d[name] is not None:
                values[name] = d[name]
        values.update(
            organization_id=org.pk,
            org_path=org.path,
            name_initials=_initials(d["name"]),
            status=rules.ACTIVE,
            category=d["category"],
            joined_on=d["joined_on"],
            full_on=d.get("full_on"),
            created_at=now,
            updated_at=now,
            id_number_hash=row.id_hash,
            id_number_encrypted=crypto.encrypt(d["id_number"]),
        )
        phone = d.get("phone") or ""
        if phone:
            values["phone_encrypted"] = crypto.encrypt(phone)
            values["phone_hash"] = crypto.keyed_hash(phone)
        member_values.append(values)
        secrets.append((d["id_number"], phone))
    ids = _new_ids(Member, len(member_values))
    names = [f.attname for f in fields]
    for start in range(0, len(member_values), batch_size):
        chunk = zip(
            ids[start : start + batch_size], member_values[start : start + batch_size], strict=True
        )
        _insert(Member, ["id", *names], ([pk, *[v[n] for n in names]] for pk, v in chunk))
        if progress:
            progress(min(start + batch_size, len(member_values)), total)
    events = []
    audits = []
    ctx = context.current()
    label = actor.get_username() if user_id else "system"
    for pk, values, (id_number, phone) in zip(ids, member_values, secrets, strict=True):
        events.append(
            (pk, EventKind.ADMITTED.value, values["joined_on"], values["organization_id"], now)
        )
        if values["full_on"]:
            events.append((pk, EventKind.BECAME_FULL.value, values["full_on"], None, now))
        audits.append(
            (
                now,
                user_id,
                label,
                ctx.ip,
                ctx.request_id,
                "member.create",
                "members.member",
                str(pk),
                values["name"][:255],
                values["org_path"],
                None,
                _audit_after(values, id_number, phone),
                *([_subject(pk)] if _AUDIT_SUBJECT else []),
            )
        )
    event_names = ["member_id", "kind", "occurred_on", "organization_id", "created_at"]
    tail = ["", "", user_id]
    for start in range(0, len(events), batch_size * 2):
        _insert(
            StandingEvent,
            [*event_names, "detail", "reference", "created_by_id"],
            ([*e, *tail] for e in events[start : start + batch_size * 2]),
        )
    for start in range(0, len(audits), batch_size):
        _insert(AuditEvent, AUDIT_COLUMNS, audits[start : start + batch_size])
    return ids


_COPY_CHUNK = 2000  # lines per write during COPY


def _copy_members(rows: list[Row], actor, progress, total) -> list[int]:
    """PostgreSQL: one COPY each for the members, their events and the audit events.

    Each COPY's text is built here, row by row, and streamed while it is built: the server
    inserts (and indexes) one chunk while Python encrypts and formats the next, so both cores
    work. Measured on 100,000 rows, the server's share (members 3.1 s, events 1.0 s, audit
    events 2.1 s, foreign-key checks at commit 2.1 s) is larger than Python's (3.2 s), so the
    Python work is spread over the three streams rather than done in one pass before them."""
    fields, defaults = _member_columns()
    now = timezone.now()
    user_id = actor.pk if getattr(actor, "pk", None) else None
    ctx = context.current()
    label = actor.get_username() if user_id else "system"
    ids = _new_ids(Member, len(rows))
    encrypt, keyed_hash = _secrets()
    esc = _copy_text
    names = ["id", *[f.attname for f in fields]]
    at = {n: i for i, n in enumerate(names)}
    now_text = esc(now)
    template = [esc(defaults.get(n)) for n in names]
    template[at["status"]] = esc(str(rules.ACTIVE))
    template[at["created_at"]] = template[at["updated_at"]] = now_text
    record_at = [(at[n], n) for n in services.RECORD_FIELDS]
    i_org, i_path, i_initials = at["organization_id"], at["org_path"], at["name_initials"]
    i_category, i_joined, i_full = at["category"], at["joined_on"], at["full_on"]
    i_hash, i_id = at["id_number_hash"], at["id_number_encrypted"]
    i_phone, i_phone_hash = at["phone_encrypted"], at["phone_hash"]
    org_text: dict[int, tuple[str, str]] = {}
    for row in rows:
        if row.organization.pk not in org_text:
            org_text[row.organization.pk] = (str(row.organization.pk), esc(row.organization.path))

    def member_lines():
        for pk, row in zip(ids, rows, strict=True):
            d = row.data
            org_id, path = org_text[row.organization.pk]
            line = template.copy()
            line[0] = str(pk)
            for i, n in record_at:
                value = d.get(n)
                if value is not None:
                    line[i] = esc(value)
            line[i_org] = org_id
            line[i_path] = path
            line[i_initials] = esc(_initials(d["name"]))
            line[i_category] = esc(d["category"])
            line[i_joined] = d["joined_on"].isoformat()
            if d.get("full_on"):
                line[i_full] = d["full_on"].isoformat()
            line[i_hash] = row.id_hash
            line[i_id] = encrypt(d["id_number"])
            phone = d.get("phone")
            if phone:
                line[i_phone] = encrypt(phone)
                line[i_phone_hash] = keyed_hash(phone)
            yield "\t".join(line)

    user_text = esc(user_id)
    admitted, became_full = EventKind.ADMITTED.value, EventKind.BECAME_FULL.value

    def event_lines():
        for pk, row in zip(ids, rows, strict=True):
            d = row.data
            yield (
                f"{pk}\t{admitted}\t{d['joined_on'].isoformat()}\t{org_text[row.organization.pk][0]}"
                f"\t{now_text}\t\t\t{user_text}"
            )
            if d.get("full_on"):
                yield f"{pk}\t{became_full}\t{d['full_on'].isoformat()}\t\\N\t{now_text}\t\t\t{user_text}"

    # The audit "after", as _audit_after makes it (tests compare the two writers).
    derived = services.DERIVED_FIELDS[1:]
    after_defaults = {n: _plain(defaults.get(n)) for n in [*services.RECORD_FIELDS, *derived]}
    after_defaults["status"] = str(rules.ACTIVE)
    json_key = {
        n: _encode_json_str(n) + ": " for n in [*services.RECORD_FIELDS, "organization", *derived]
    }
    record_keys = [(n, json_key[n]) for n in services.RECORD_FIELDS]
    derived_keys = [(n, json_key[n]) for n in derived]
    audit_head = "\t".join(
        [now_text, esc(user_id), esc(label), esc(ctx.ip), esc(ctx.request_id)]
        + ["member.create", "members.member"]
    )

    def audit_lines():
        for done, (pk, row) in enumerate(zip(ids, rows, strict=True), 1):
            d = row.data
            after = []
            for n, key in record_keys:
                value = d.get(n)
                after.append(key + _json_value(after_defaults[n] if value is None else value))
            after.append(json_key["organization"] + org_text[row.organization.pk][0])
            for n, key in derived_keys:
                value = d.get(n) if n in ("category", "joined_on", "full_on") else after_defaults[n]
                after.append(key + _json_value(value))
            phone = d.get("phone") or ""
            after.append('"id_number": ' + _encode_json_str(crypto.mask_id_number(d["id_number"])))
            after.append('"phone": ' + _encode_json_str(crypto.mask_phone(phone) if phone else ""))
            yield (
                f"{audit_head}\t{pk}\t{esc(d['name'][:255])}\t{org_text[row.organization.pk][1]}"
                "\t\\N\t"
                + esc("{" + ", ".join(after) + "}")
                + ("\t" + esc(_subject(pk)) if _AUDIT_SUBJECT else "")
            )
            if progress and done % 10_000 == 0:
                progress(done, total)

    with connection.cursor() as cursor:
        _copy_stream(cursor, Member, names, member_lines())
        _copy_stream(
            cursor,
            StandingEvent,
            [
                "member_id",
                "kind",
                "occurred_on",
                "organization_id",
                "created_at",
                "detail",
                "reference",
                "created_by_id",
            ],
            event_lines(),
        )
        _copy_stream(cursor, AuditEvent, AUDIT_COLUMNS, audit_lines())
    return ids


def _copy_stream(cursor, model, names: list[str], lines) -> None:
    """COPY lines (COPY text format, without the newline) into model's table as they come."""
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(by_attname[n].column) for n in names)
    with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        chunk = []
        for line in lines:
            chunk.append(line)
            if len(chunk) >= _COPY_CHUNK:
                copy.write("\n".join(chunk) + "\n")
                chunk = []
        if chunk:
            copy.write("\n".join(chunk) + "\n")


def _plain(value):
    """A model default as the audit JSON holds it (enum members as their value)."""
    return value.value if isinstance(value, enum.Enum) else value


AUDIT_COLUMNS = [
    "at",
    "user_id",
    "user_label",
    "ip",
    "request_id",
    "action",
    "object_type",
    "object_id",
    "object_label",
    "org_path",
    "before",
    "after",
]
# AuditEvent.subject ("members.member:42", as services.create_member records it), when the
# model has it.
_AUDIT_SUBJECT = any(f.name == "subject" for f in AuditEvent._meta.concrete_fields)
if _AUDIT_SUBJECT:
    AUDIT_COLUMNS.append("subject")


class _Pk:
    __slots__ = ("pk",)

    def __init__(self, pk):
        self.pk = pk


def _subject(pk: int) -> str:
    """The audit subject of a new member, as services.subject_of gives it."""
    subject_of = getattr(services, "subject_of", None)
    return subject_of(_Pk(pk)) if subject_of else f"members.member:{pk}"


def _new_ids(model, n: int) -> list[int]:
    """n primary keys for explicit inserts. PostgreSQL: from the sequence, in one query.
    SQLite: after the current largest (the transaction holds the write lock: IMMEDIATE mode)."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One text value rather than n rows: reading 100,000 result rows costs half a second.
            cursor.execute(
                "SELECT string_agg(nextval(pg_get_serial_sequence(%s, 'id'))::text, ',')"
                " FROM generate_series(1, %s)",
                [table, n],
            )
            (found,) = cursor.fetchone()
            return [int(v) for v in found.split(",")] if found else []
        cursor.execute(f"SELECT max(id) FROM {connection.ops.quote_name(table)}")  # noqa: S608
        (largest,) = cursor.fetchone()
        if connection.vendor == "sqlite":
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            found = cursor.fetchone()
            largest = max(largest or 0, found[0] if found else 0)
    first = (largest or 0) + 1
    return list(range(first, first + n))


def _insert(model, names: list[str], rows) -> None:
    """Insert plain values in one statement per call: COPY on PostgreSQL, executemany elsewhere.
    Avoids the per-value preparation of bulk_create, which dominates at 100,000 rows."""
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    fields = [by_attname[n] for n in names]
    json_at = [i for i, f in enumerate(fields) if f.get_internal_type() == "JSONField"]
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY text format built here: psycopg's write_row adapts value by value, which
            # costs more than the rest of the write together.
            lines = []
            for row in rows:
                if json_at:
                    row = list(row)
                    for i in json_at:
                        if row[i] is not None:
                            row[i] = json.dumps(row[i], ensure_ascii=False)
                lines.append("\t".join([_copy_text(v) for v in row]))
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for start in range(0, len(lines), 1000):
                    copy.write("\n".join(lines[start : start + 1000]) + "\n")
            return
        adapt_at = [
            (i, f.get_internal_type())
            for i, f in enumerate(fields)
            if f.get_internal_type() in ("DateField", "DateTimeField", "JSONField")
        ]
        ops = connection.ops
        prepared = []
        for row in rows:
            row = list(row)
            for i, kind in adapt_at:
                value = row[i]
                if value is None:
                    continue
                if kind == "JSONField":
                    row[i] = json.dumps(value, ensure_ascii=False)
                elif kind == "DateField":
                    row[i] = ops.adapt_datefield_value(value)
                else:
                    row[i] = ops.adapt_datetimefield_value(value)
            prepared.append(row)
        marks = ", ".join(["%s"] * len(fields))
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", prepared)  # noqa: S608


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value) -> str:
    """One value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            return value.translate(_COPY_ESCAPES)
        return value
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


def _update_members(rows: list[Row], actor, batch_size) -> list[int]:
    """Change only the given columns of recorded members; one audit event per changed member."""
    changed_fields: set[str] = set()
    items = []
    members = []
    for row in rows:
        member = row.existing
        before = services._audit_view(member)
        d = row.data
        for name in services.RECORD_FIELDS:
            if name in row.given and name in d:
                setattr(member, name, d[name])
                changed_fields.add(name)
        if "name" in row.given:
            member.name_initials = _initials(member.name)
            changed_fields.add("name_initials")
        if "phone" in row.given:
            phone = d.get("phone") or ""
            member.phone_encrypted = crypto.encrypt(phone) if phone else ""
            member.phone_hash = crypto.keyed_hash(phone) if phone else ""
            changed_fields |= {"phone_encrypted", "phone_hash"}
        after = services._audit_view(member)
        b, a = audit.diff(before, after)
        if a:
            member.updated_at = timezone.now()
            members.append(member)
            items.append((member, b, a, member.org_path))
    if members and changed_fields:
        Member.objects.bulk_update(
            members, sorted(changed_fields | {"updated_at"}), batch_size=batch_size
        )
    audit.record_many(actor, "member.update", items, batch_size=batch_size)
    return [r.existing.pk for r in rows]


# Error report ----------------------------------------------------------------------------------


def error_report(table: Table, checked: Checked, handle) -> None:
    """The original rows with a column of errors and warnings, as .xlsx (write-only)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Import check"))
    sheet.append([safe_cell(h) for h in table.headers] + [_("Line"), _("Errors"), _("Warnings")])
    by_line = {r.line: r for r in checked.rows}
    for line, cells in table.rows:
        row = by_line.get(line)
        out = [safe_cell(_report_cell(c)) for c in cells]
        out += [
            line,
            "；".join(str(p) for p in row.errors) if row else "",
            "；".join(str(p) for p in row.warnings) if row else "",
        ]
        sheet.append(out)
    book.save(handle)


def summary_report(checked: Checked, outcome: Outcome, handle, limit: int = 10_000) -> None:
    """What an import did: the counts, remarks, and the rows with warnings (first `limit`)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Import result"))
    sheet.append([_("Rows"), len(checked.rows)])
    sheet.append([_("Members created"), outcome.created])
    sheet.append([_("Members updated"), outcome.updated])
    for note in checked.notes:
        sheet.append([_("Note"), safe_cell(note)])
    sheet.append([])
    sheet.append([_("Line"), _("Name"), _("Warnings")])
    shown = 0
    for row in checked.rows:
        if row.warnings and shown < limit:
            shown += 1
            sheet.append(
                [
                    row.line,
                    safe_cell(str(row.data.get("name") or "")),
                    safe_cell("；".join(str(p) for p in row.warnings)),
                ]
            )
    book.save(handle)


def _report_cell(cell):
    if isinstance(cell, float) and cell.is_integer() and abs(cell) < _FLOAT_EXACT:
        return int(cell)
    return cell


# The background job ----------------------------------------------------------------------------


class ImportFailed(Exception):
    """The job stops: the message is shown on the job page; nothing was written."""


@job_kind("member_import")
def run_import_job(job, progress):
    """Re-read and re-check the stored file (the database may have changed since the preview),
    then write all rows in one transaction."""
    from django.utils.translation import override

    from .models_import import ImportStatus, MemberImport

    with override(job.params.get("language") or "zh-hans"):
        imp = MemberImport.objects.select_related("organization", "user").get(
            pk=job.params["import_id"]
        )
        token = context.begin(request_id=f"import-{imp.pk.hex[:24]}")
        try:
            table = imp.read_table()
            checked = check_rows(
                table,
                imp.mapping,
                actor=job.user,
                organization=imp.organization,
                update=imp.update,
            )
            progress.total(len(checked.rows))
            if not checked.ok:
                imp.status = ImportStatus.PREVIEWED
                imp.summary = checked.summary()
                imp.save(update_fields=["status", "summary"])
                raise ImportFailed(
                    _("%(n)s rows have errors (see the preview); nothing was imported.")
                    % {"n": imp.summary["error_rows"]}
                )
            try:
                outcome = import_rows(
                    checked.rows,
                    actor=job.user,
                    update=imp.update,
                    progress=lambda done, total: progress.advance(done),
                )
            except Exception:
                imp.status = ImportStatus.FAILED
                imp.save(update_fields=["status"])
                raise
            imp.status = ImportStatus.DONE
            imp.created_count = outcome.created
            imp.updated_count = outcome.updated
            imp.finished_at = timezone.now()
            imp.save(update_fields=["status", "created_count", "updated_count", "finished_at"])
            handle = tempfile.TemporaryFile()
            summary_report(checked, outcome, handle)
            handle.seek(0)
            return f"import-{timezone.localdate():%Y%m%d}.xlsx", handle
        finally:
            context.end(token)


# The steps, for pages, the API and the command --------------------------------------------------


def target_organization(actor, org_id) -> Organization:
    """The organisation an import goes to: member.change needed there (404 outside the scope)."""
    return selectors.get_organization(actor, org_id, "member.change")


def upload(*, actor, organization: Organization, data: bytes, name: str, update: bool = False):
    """Read the file (BadFile when it cannot be imported), store it, suggest a mapping."""
    from django.core.files.base import ContentFile

    from .models_import import MemberImport

    if not selectors.can(actor, "member.change", organization):
        from dangjian.core.errors import NotFound

        raise NotFound(_("Organisation not found."))
    table = read_table(data, name)
    safe_name = re.sub(r"[^\w.\-]+", "_", name)[-100:] or "roster"
    imp = MemberImport(
        user=actor,
        organization=organization,
        org_path=organization.path,
        original_name=name[:255] or "roster",
        file_format=table.format,
        header_line=table.header_line,
        headers=table.headers,
        mapping=suggest_mapping(table.headers),
        update=update,
        row_count=len(table.rows),
    )
    imp.file.save(safe_name, ContentFile(data), save=False)
    imp.save()
    return imp


def get_import(actor, pk):
    """The user's own import, while they may still change members of its organisation."""
    from django.core.exceptions import ValidationError

    from dangjian.core.errors import NotFound

    from .models_import import MemberImport

    try:
        imp = MemberImport.objects.select_related("organization", "job").get(pk=pk, user=actor)
    except (MemberImport.DoesNotExist, ValueError, TypeError, ValidationError):
        raise NotFound(_("Import not found.")) from None
    if not selectors.can(actor, "member.change", imp.organization):
        raise NotFound(_("Import not found."))
    return imp


def preview(imp, *, actor, mapping: list[str] | None = None, update: bool | None = None):
    """Check every row with the (new) mapping; store the counts and the problem rows."""
    from .models_import import ImportStatus

    if imp.status in (ImportStatus.COMMITTING, ImportStatus.DONE):
        raise ValidationFailed(
            _("This file has already been imported."), code="already_imported", field="status"
        )
    if update is not None:
        imp.update = update
    if mapping is not None:
        imp.mapping = check_mapping(imp.headers, list(mapping), update=imp.update)
    table = imp.read_table()
    checked = check_rows(
        table, imp.mapping, actor=actor, organization=imp.organization, update=imp.update
    )
    imp.summary = checked.summary()
    imp.status = ImportStatus.PREVIEWED
    imp.save(update_fields=["mapping", "update", "summary", "status"])
    return table, checked


def commit(imp, *, actor, language: str | None = None):
    """Start the background job that writes the rows (checked again there)."""
    from dangjian.core import jobs

    from .models_import import ImportStatus

    if imp.status in (ImportStatus.COMMITTING, ImportStatus.DONE):
        raise ValidationFailed(
            _("This file has already been imported."), code="already_imported", field="status"
        )
    if imp.status != ImportStatus.PREVIEWED:
        raise ValidationFailed(
            _("Check the rows (preview) before importing."), code="not_previewed", field="status"
        )
    if imp.summary.get("error_rows"):
        raise ValidationFailed(
            _("%(n)s rows have errors: correct the file and upload it again.")
            % {"n": imp.summary["error_rows"]},
            code="rows_invalid",
            field="file",
        )
    with transaction.atomic():
        # A double click or a second tab: only the request that moves the import from
        # "previewed" to "committing" starts a job (a conditional update, on both databases).
        claimed = (
            type(imp)
            .objects.filter(pk=imp.pk, status=ImportStatus.PREVIEWED)
            .update(status=ImportStatus.COMMITTING)
        )
        if claimed != 1:
            raise ValidationFailed(
                _("This file has already been imported."), code="already_imported", field="status"
            )
        job = jobs.start_job(
            actor=actor,
            kind="member_import",
            title=_("Member import: %(name)s") % {"name": imp.original_name},
            params={"import_id": str(imp.pk), "language": language or "zh-hans"},
        )
        imp.job = job
        imp.status = ImportStatus.COMMITTING
        imp.save(update_fields=["job", "status"])
    return job
