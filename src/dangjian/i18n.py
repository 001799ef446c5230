"""Compiles the translation catalogues (.po -> .mo) with polib.

Written here rather than calling Django's compilemessages because that needs GNU gettext's msgfmt,
a system package that a fresh machine lacks; polib is pure Python and comes with our dependencies.
Run as `python -m dangjian.i18n` (the Makefile does it on install).
"""

from pathlib import Path

import polib

LOCALE_DIR = Path(__file__).resolve().parent / "locale"


def compile_all(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    written = []
    for po_path in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
        written.append(mo_path)
    return written


if __name__ == "__main__":
    for path in compile_all():
        print(f"compiled {path}")
