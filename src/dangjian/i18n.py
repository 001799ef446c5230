"""Translation catalogues without GNU gettext: extraction (source -> .po) and compilation (.po -> .mo).

Written here rather than calling Django's makemessages/compilemessages because those need GNU
gettext's xgettext and msgfmt, system packages that a fresh machine lacks; polib is pure Python and
comes with our dependencies.

    python -m dangjian.i18n            compile every .po under locale/ into .mo (the Makefile does it)
    python -m dangjian.i18n extract    merge the msgids found in the source into the zh_Hans .po
                                       (existing translations kept, new ones added empty, vanished
                                       ones marked obsolete); then translate and compile

What is extracted (the same as makemessages would find):
- src/dangjian/**/templates/**/*.html: {% translate "..." %} / {% trans '...' %} (with `context`),
  {% blocktranslate [count ...] [with ...] [context "..."] [trimmed] %}...{% plural %}...
  {% endblocktranslate %} with {{ var }} written as %(var)s and a literal % doubled, exactly as
  Django builds the msgid at render time, and _("...") constants inside tags and variables;
- src/dangjian/**/*.py except migrations and management commands: calls of gettext, gettext_lazy,
  gettext_noop, ngettext(_lazy), pgettext(_lazy), npgettext(_lazy) -- under whatever name they are
  imported from django.utils.translation, `_` included -- whose message arguments are string
  literals.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polib

PACKAGE_DIR = Path(__file__).resolve().parent
LOCALE_DIR = PACKAGE_DIR / "locale"
SOURCE_LANGUAGE = "en"
TARGET_LANGUAGE = "zh_Hans"
DOMAIN = "django"


def compile_all(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    written = []
    for po_path in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
        written.append(mo_path)
    return written


# --------------------------------------------------------------------------------------------
# Extraction


@dataclass
class Message:
    msgid: str
    msgid_plural: str = ""
    msgctxt: str | None = None
    occurrences: list[tuple[str, str]] = field(default_factory=list)

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.msgctxt, self.msgid)


# gettext-family functions: name -> (index of context, index of singular, index of plural)
_PY_FUNCTIONS = {
    "gettext": (None, 0, None),
    "gettext_lazy": (None, 0, None),
    "gettext_noop": (None, 0, None),
    "ngettext": (None, 0, 1),
    "ngettext_lazy": (None, 0, 1),
    "pgettext": (0, 1, None),
    "pgettext_lazy": (0, 1, None),
    "npgettext": (0, 1, 2),
    "npgettext_lazy": (0, 1, 2),
}


def _relative(path: Path) -> str:
    try:
        return path.relative_to(PACKAGE_DIR.parent).as_posix()
    except ValueError:
        return path.as_posix()


def _string_arg(args: list[ast.expr], index: int | None) -> str | None:
    if index is None or index >= len(args):
        return None
    node = args[index]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def extract_python(source: str, filename: str = "<string>") -> list[tuple[int, Message]]:
    """The msgids of one Python module, as (line, message) pairs in source order."""
    tree = ast.parse(source, filename=filename)
    names = {"_": "gettext"}  # `_` is gettext or gettext_lazy; both take one message argument
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "django.utils.translation":
            for alias in node.names:
                if alias.name in _PY_FUNCTIONS:
                    names[alias.asname or alias.name] = alias.name
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in names:
            kind = names[func.id]
        elif isinstance(func, ast.Attribute) and func.attr in _PY_FUNCTIONS:
            kind = func.attr  # translation.gettext(...)
        else:
            continue
        ctx_i, one_i, many_i = _PY_FUNCTIONS[kind]
        msgid = _string_arg(node.args, one_i)
        if not msgid:
            continue
        plural = _string_arg(node.args, many_i) if many_i is not None else ""
        context = _string_arg(node.args, ctx_i) if ctx_i is not None else None
        if plural is None or (ctx_i is not None and context is None):
            continue
        found.append((node.lineno, Message(msgid, plural or "", context)))
    found.sort(key=lambda item: item[0])
    return found


_constant_re = re.compile(r"""_\(((?:".*?")|(?:'.*?'))\)""")


def _unquote(text: str) -> str:
    return text[1:-1]


def extract_template(source: str) -> list[tuple[int, Message]]:
    """The msgids of one Django template, built the way Django's i18n tags build them."""
    from django.template.base import Lexer, TokenType
    from django.utils.translation import trim_whitespace
    from django.utils.translation.template import (
        block_re,
        context_re,
        endblock_re,
        inline_re,
        plural_re,
    )

    found: list[tuple[int, Message]] = []
    intrans = inplural = trimmed = incomment = False
    singular: list[str] = []
    plural: list[str] = []
    context: str | None = None
    start = 0

    def join(parts: list[str]) -> str:
        text = "".join(parts)
        return trim_whitespace(text) if trimmed else text

    for token in Lexer(source).tokenize():
        if incomment:
            if token.token_type == TokenType.BLOCK and token.contents == "endcomment":
                incomment = False
        elif intrans:
            if token.token_type == TokenType.BLOCK:
                if endblock_re.match(token.contents):
                    msgid = join(singular)
                    if msgid:
                        found.append(
                            (start, Message(msgid, join(plural) if inplural else "", context))
                        )
                    intrans = inplural = False
                    singular, plural, context = [], [], None
                elif plural_re.match(token.contents):
                    inplural = True
                else:
                    raise SyntaxError(
                        f"Translation blocks must not include other block tags: "
                        f"{token.contents} (line {token.lineno})"
                    )
            elif token.token_type == TokenType.VAR:
                (plural if inplural else singular).append(f"%({token.contents})s")
            elif token.token_type == TokenType.TEXT:
                (plural if inplural else singular).append(token.contents.replace("%", "%%"))
        elif token.token_type == TokenType.BLOCK:
            inline = inline_re.match(token.contents)
            block = block_re.match(token.contents)
            if inline:
                ctx = None
                if inline[2]:
                    ctx = _unquote(context_re.match(inline[2])[1])
                msgid = _unquote(inline[1])
                if msgid:
                    found.append((token.lineno, Message(msgid, "", ctx)))
            elif block:
                for constant in _constant_re.findall(token.contents):
                    found.append((token.lineno, Message(_unquote(constant))))
                context = _unquote(context_re.match(block[1])[1]) if block[1] else None
                intrans, inplural = True, False
                trimmed = "trimmed" in token.split_contents()
                singular, plural, start = [], [], token.lineno
            elif token.contents == "comment":
                incomment = True
            else:
                for constant in _constant_re.findall(token.contents):
                    found.append((token.lineno, Message(_unquote(constant))))
        elif token.token_type == TokenType.VAR:
            parts = token.contents.split("|")
            head = _constant_re.match(parts[0])
            if head:
                found.append((token.lineno, Message(_unquote(head[1]))))
            for part in parts[1:]:
                for constant in _constant_re.findall(part):
                    found.append((token.lineno, Message(_unquote(constant))))
    return [(line, m) for line, m in found if m.msgid]


def source_files(package_dir: Path = PACKAGE_DIR) -> tuple[list[Path], list[Path]]:
    templates = sorted(
        p for p in package_dir.rglob("*.html") if "templates" in p.relative_to(package_dir).parts
    )
    python = sorted(
        p
        for p in package_dir.rglob("*.py")
        if not {"migrations", "__pycache__"} & set(p.relative_to(package_dir).parts)
        and "management/commands" not in p.relative_to(package_dir).as_posix()
    )
    return templates, python


def extract_all(package_dir: Path = PACKAGE_DIR) -> list[Message]:
    """Every message of the source, de-duplicated, in first-seen order (templates, then Python)."""
    templates, python = source_files(package_dir)
    messages: dict[tuple[str | None, str], Message] = {}
    for paths, extract in ((templates, extract_template), (python, None)):
        for path in paths:
            text = path.read_text(encoding="utf-8")
            pairs = extract_template(text) if extract else extract_python(text, str(path))
            for line, message in pairs:
                existing = messages.setdefault(message.key, message)
                if message.msgid_plural and not existing.msgid_plural:
                    existing.msgid_plural = message.msgid_plural
                existing.occurrences.append((_relative(path), str(line)))
    return list(messages.values())


# --------------------------------------------------------------------------------------------
# Merging into the catalogue


def catalogue_path(language: str = TARGET_LANGUAGE, locale_dir: Path = LOCALE_DIR) -> Path:
    return locale_dir / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def _new_catalogue(language: str) -> polib.POFile:
    po = polib.POFile(wrapwidth=100)
    po.header = "Translations of the dangjian Party-building platform.\n"
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M%z")
    po.metadata = {
        "Project-Id-Version": "dangjian",
        "Report-Msgid-Bugs-To": "",
        "POT-Creation-Date": now,
        "PO-Revision-Date": now,
        "Last-Translator": "",
        "Language-Team": "Simplified Chinese",
        "Language": language,
        "MIME-Version": "1.0",
        "Content-Type": "text/plain; charset=UTF-8",
        "Content-Transfer-Encoding": "8bit",
        "Plural-Forms": "nplurals=1; plural=0;",
    }
    return po


_format_re = re.compile(r"%(?:\([^)]+\))?[-#0 +]*\d*(?:\.\d+)?[sdifr]")


def _is_python_format(message: Message) -> bool:
    return bool(_format_re.search(message.msgid) or _format_re.search(message.msgid_plural))


def merge(
    messages: list[Message], po_path: Path | None = None, language: str = TARGET_LANGUAGE
) -> dict[str, int]:
    """Bring the .po at po_path up to date with messages; returns counts of what changed."""
    po_path = po_path or catalogue_path(language)
    if po_path.exists():
        po = polib.pofile(str(po_path), wrapwidth=100)
    else:
        po_path.parent.mkdir(parents=True, exist_ok=True)
        po = _new_catalogue(language)
    nplurals = 1
    match = re.search(r"nplurals\s*=\s*(\d+)", po.metadata.get("Plural-Forms", ""))
    if match:
        nplurals = int(match[1])

    entries = {(e.msgctxt, e.msgid): e for e in po}
    counts = {"added": 0, "revived": 0, "obsoleted": 0, "total": len(messages)}
    wanted = set()
    for message in messages:
        wanted.add(message.key)
        entry = entries.get(message.key)
        if entry is None:
            entry = polib.POEntry(msgid=message.msgid, msgctxt=message.msgctxt)
            if message.msgid_plural:
                entry.msgid_plural = message.msgid_plural
                entry.msgstr_plural = {i: "" for i in range(nplurals)}
            po.append(entry)
            counts["added"] += 1
        elif entry.obsolete:
            entry.obsolete = False
            counts["revived"] += 1
        if message.msgid_plural and entry.msgid_plural != message.msgid_plural:
            entry.msgid_plural = message.msgid_plural
            old = entry.msgstr_plural or {}
            entry.msgstr_plural = {i: old.get(i, entry.msgstr or "") for i in range(nplurals)}
            entry.msgstr = ""
            if any(entry.msgstr_plural.values()) and "fuzzy" not in entry.flags:
                entry.flags.append("fuzzy")
        entry.occurrences = list(message.occurrences)
        if _is_python_format(message) and "python-format" not in entry.flags:
            entry.flags.append("python-format")
    for key, entry in entries.items():
        if key not in wanted and not entry.obsolete:
            entry.obsolete = True
            entry.occurrences = []
            counts["obsoleted"] += 1

    # Live entries in source order, obsolete ones at the end (as msgmerge does).
    order = {key: i for i, key in enumerate(m.key for m in messages)}
    live = sorted((e for e in po if not e.obsolete), key=lambda e: order[(e.msgctxt, e.msgid)])
    po[:] = live + [e for e in po if e.obsolete]
    before = po_path.read_text(encoding="utf-8") if po_path.exists() else ""
    if str(po).rstrip("\n") != before.rstrip("\n"):  # leave an unchanged file (and .mo) alone
        po.metadata["POT-Creation-Date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M%z")
        po.save(str(po_path))
    return counts


def untranslated(po_path: Path | None = None) -> list[polib.POEntry]:
    po = polib.pofile(str(po_path or catalogue_path()))
    return [
        e
        for e in po
        if not e.obsolete
        and (
            "fuzzy" in e.flags
            or (not all(e.msgstr_plural.values()) if e.msgid_plural else not e.msgstr)
        )
    ]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] == "compile":
        for path in compile_all():
            print(f"compiled {path}")
        return 0
    if argv[0] == "extract":
        counts = merge(extract_all())
        missing = untranslated()
        print(
            f"{catalogue_path()}: {counts['total']} messages, {counts['added']} new, "
            f"{counts['revived']} revived, {counts['obsoleted']} made obsolete; "
            f"{len(missing)} untranslated"
        )
        for entry in missing:
            print(f"  untranslated: {entry.msgid!r}")
        return 0
    print("usage: python -m dangjian.i18n [compile|extract]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
