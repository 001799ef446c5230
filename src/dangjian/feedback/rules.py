"""Rules of requests from the public (群众诉求) as pure functions and data: categories, deadlines,
the life cycle of a request, routing by keywords, tracking numbers and check codes, ratings.

No Django here: the services feed these functions what the database holds (the working-day
calendar, the administrator's routing rules and deadline overrides).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

# Categories, in the order the desk offers them.
CATEGORIES = ("help", "opinion", "suggestion", "complaint", "praise", "other")


@dataclass(frozen=True)
class DeadlineVersion:
    """Working days to acknowledge and to answer, per category, from `effective` on."""

    code: str
    effective: datetime.date
    days: dict[str, tuple[int, int]]


# No national rule fixes these; they follow common practice of 12345-style hotlines (acknowledge
# the next working day, answer help and complaints within 5 and 10 working days). An
# administrator overrides them per category (models.DeadlinePolicy).
DEADLINES: tuple[DeadlineVersion, ...] = (
    DeadlineVersion(
        "2026",
        datetime.date(2026, 1, 1),
        {
            "help": (1, 5),
            "complaint": (1, 10),
            "opinion": (2, 15),
            "suggestion": (2, 15),
            "praise": (2, 10),
            "other": (2, 10),
        },
    ),
)

MAX_DEADLINE_DAYS = 60


def deadline_version(on: datetime.date) -> DeadlineVersion:
    found = None
    for version in DEADLINES:
        if version.effective <= on:
            found = version
    return found or DEADLINES[0]


def deadline_days(
    category: str, on: datetime.date, overrides: dict[str, tuple[int, int]] | None = None
) -> tuple[int, int, str]:
    """(working days to acknowledge, to answer, the rule that decided) for a request submitted on
    `on`. An administrator's override wins over the version in force."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}")
    if overrides and category in overrides:
        ack, answer = overrides[category]
        check_deadline_days(ack, answer)
        return ack, answer, "local"
    version = deadline_version(on)
    ack, answer = version.days[category]
    return ack, answer, version.code


def check_deadline_days(ack: int, answer: int) -> None:
    if not (0 <= ack <= MAX_DEADLINE_DAYS and 1 <= answer <= MAX_DEADLINE_DAYS):
        raise ValueError(f"days must lie within 0..{MAX_DEADLINE_DAYS}")
    if ack > answer:
        raise ValueError("acknowledging cannot take longer than answering")


SOON_HOURS = 24  # "due soon": the inbox tab, the reminder of the sweep, the badges


def due_state(
    due: datetime.datetime | None, done: bool, now: datetime.datetime, soon_hours=SOON_HOURS
):
    """'done', 'overdue', 'soon' (within `soon_hours`) or 'ok' for one deadline."""
    if done or due is None:
        return "done"
    if now > due:
        return "overdue"
    if (due - now).total_seconds() <= soon_hours * 3600:
        return "soon"
    return "ok"


# Life cycle ------------------------------------------------------------------------------------

RECEIVED = "received"
ACCEPTED = "accepted"
IN_PROGRESS = "in_progress"
ANSWERED = "answered"
CLOSED = "closed"
REJECTED = "rejected"
MERGED = "merged"

STATUSES = (RECEIVED, ACCEPTED, IN_PROGRESS, ANSWERED, CLOSED, REJECTED, MERGED)
OPEN = frozenset({RECEIVED, ACCEPTED, IN_PROGRESS})
FINAL = frozenset({CLOSED, REJECTED, MERGED})

# action -> the statuses it may start from, and the status it leaves (None: unchanged).
ACTIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "accept": (frozenset({RECEIVED}), ACCEPTED),
    "start": (frozenset({RECEIVED, ACCEPTED}), IN_PROGRESS),
    "forward": (frozenset({RECEIVED, ACCEPTED, IN_PROGRESS}), RECEIVED),
    "merge": (frozenset({RECEIVED, ACCEPTED, IN_PROGRESS}), MERGED),
    "assign": (frozenset({RECEIVED, ACCEPTED, IN_PROGRESS}), None),
    "note": (frozenset(STATUSES), None),
    "answer": (frozenset({RECEIVED, ACCEPTED, IN_PROGRESS, ANSWERED}), ANSWERED),
    "close": (frozenset({ANSWERED}), CLOSED),
    "reject": (frozenset({RECEIVED, ACCEPTED, IN_PROGRESS}), REJECTED),
    "feature": (frozenset({ANSWERED, CLOSED}), None),
    # by the person who submitted it
    "add": (frozenset({RECEIVED, ACCEPTED, IN_PROGRESS, ANSWERED}), None),
    "rate": (frozenset({ANSWERED, CLOSED}), None),
    "reopen": (frozenset({ANSWERED, CLOSED}), IN_PROGRESS),
}


def next_status(action: str, status: str) -> str | None:
    """The status after `action`, or None when the action is not allowed from `status`."""
    allowed, after = ACTIONS[action]
    if status not in allowed:
        return None
    return after or status


# Ratings ---------------------------------------------------------------------------------------

RATINGS = (1, 2, 3, 4, 5)
UNSATISFIED = 2  # a rating at or below this may reopen the request
REOPENS_ALLOWED = 1


def may_reopen(rating: int, reopened: int) -> bool:
    return rating <= UNSATISFIED and reopened < REOPENS_ALLOWED


def may_rate(status: str, rated_at, answered_at) -> bool:
    """An answer is rated once: the request must be answered (or closed), and any earlier rating
    must be older than the latest answer (a reopened request's new answer is rated again)."""
    if next_status("rate", status) is None:
        return False
    return not (rated_at and answered_at and rated_at >= answered_at)


# Tracking numbers and check codes -----------------------------------------------------------------

# Without look-alikes (0/O, 1/I/L), so a code read aloud on the phone or copied from paper works.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 6


def tracking_number(on: datetime.date, draw=secrets.randbelow) -> str:
    """YYYYMMDD and six random digits: 20261207-048213. Random rather than counted, so one number
    tells nothing of the others, and nobody learns how many requests a place receives."""
    return f"{on:%Y%m%d}-{draw(1_000_000):06d}"


def check_code(draw=secrets.choice) -> str:
    return "".join(draw(CODE_ALPHABET) for _ in range(CODE_LENGTH))


# Check codes are stored as salted PBKDF2 digests, not under the data key: rotating the data key
# must not invalidate codes people wrote on paper, and a leaked table must not give codes away
# cheaply (31^6 codes). Fewer rounds than a password needs: guesses are also limited per address
# and per number, and each look-up must stay fast.
CODE_ROUNDS = 20_000


def seal_code(code: str, salt: str | None = None, rounds: int = CODE_ROUNDS) -> str:
    salt = salt or secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", normalise_code(code).encode(), salt.encode(), rounds)
    return f"p2${rounds}${salt}${digest.hex()}"


def code_matches(code: str, sealed: str) -> bool:
    """Constant time for a given sealed value; a malformed one matches nothing."""
    try:
        scheme, rounds, salt, _digest = sealed.split("$")
        rounds = int(rounds)
    except ValueError:
        return False
    if scheme != "p2" or not 1_000 <= rounds <= 1_000_000:
        return False
    return hmac.compare_digest(seal_code(code, salt, rounds).encode(), sealed.encode())


def normalise_code(text: str) -> str:
    return "".join(str(text or "").split()).upper()


def normalise_number(text: str) -> str:
    """Accepts 20261207048213, 20261207-048213 and full-width digits."""
    raw = "".join(ch for ch in str(text or "") if not ch.isspace())
    raw = raw.translate({0xFF10 + i: ord("0") + i for i in range(10)} | {0xFF0D: ord("-")})
    digits = raw.replace("-", "")
    if len(digits) == 14 and digits.isdigit():
        return f"{digits[:8]}-{digits[8:]}"
    return raw


# A dummy to compare against when the number does not exist: the same work either way.
NO_CODE = seal_code("-", "0" * 16)


# Personal data in published text ----------------------------------------------------------------

_SCRUBS = (
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "***@***"),
    (re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)|(?<!\d)\d{15}(?!\d)"), "[身份证号已隐去]"),
    (re.compile(r"(?<!\d)(\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)"), "1**********"),
    (re.compile(r"(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)"), "0***-********"),
)


def scrub(text: str) -> str:
    """Text fit for the public page: e-mail addresses, ID numbers and phone numbers people typed
    into their request (or staff into a reply) are replaced."""
    for pattern, replacement in _SCRUBS:
        text = pattern.sub(replacement, text)
    return text


# Routing -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteRule:
    """An administrator's rule: requests whose text has these words go to this organisation."""

    id: int
    org_id: int
    org_path: str
    keywords: frozenset[str]
    category: str = ""  # empty: any category
    weight: int = 1


@dataclass(frozen=True)
class Route:
    org_id: int
    rule_id: int
    score: int
    matched: tuple[str, ...]


def parse_keywords(text: str) -> frozenset[str]:
    """Keywords as an administrator types them: separated by spaces, commas or 、；."""
    for sep in ",，、;；\n\t":
        text = text.replace(sep, " ")
    return frozenset(word.strip().lower() for word in text.split() if word.strip())


def suggest_route(
    words: Iterable[str], category: str, rules: Iterable[RouteRule], within: str = ""
) -> Route | None:
    """The organisation the words point to, or None.

    `words` are the request's words (segmented); a rule scores its weight for every keyword found
    among them. Only rules for this category or for any category count, and only those whose
    organisation lies within `within` (the place the request concerns) when given. Highest score
    wins; on a tie, a rule for the category beats a general one, then the deeper organisation
    (closer to the people), then the older rule.
    """
    bag = {w.strip().lower() for w in words if w and w.strip()}
    best: tuple | None = None
    for rule in rules:
        if rule.category and rule.category != category:
            continue
        if within and not rule.org_path.startswith(within):
            continue
        matched = tuple(sorted(k for k in rule.keywords if k in bag))
        if not matched:
            continue
        score = len(matched) * max(rule.weight, 1)
        key = (score, 1 if rule.category else 0, len(rule.org_path), -rule.id)
        if best is None or key > best[0]:
            best = (key, Route(rule.org_id, rule.id, score, matched))
    return best[1] if best else None
