"""Party standing as a series of dated events, and the state that follows from them (pure).

A member's category (full / probationary), standing (normal / suspended), membership status
(active, or how it ended), organisation, contact and mobility all derive from the events of the
timeline. `derive(events, as_of)` replays the events dated on or before `as_of` in order, so any
past state can be asked for: annual statistics count as of 31 December.

Also here: the age and the Party-standing years (党龄, counted from the day the member became
full, 党章 §7) as pure functions, and the cross-checks of a record against its ID number.
"""

import datetime
from dataclasses import dataclass, replace

from dangjian.core.rules import add_months

# event kind -> (what it does). Order of the tuple below is the order in the UI.
ADMITTED = "admitted"  # 接收为预备党员
BECAME_FULL = "became_full"  # 转为正式党员
PROBATION_EXTENDED = "probation_extended"  # 延长预备期
QUALIFICATION_CANCELLED = "qualification_cancelled"  # 取消预备党员资格
TRANSFERRED_IN = "transferred_in"  # 转入
TRANSFERRED_OUT = "transferred_out"  # 转出 (out of the platform)
TRANSFERRED = "transferred"  # 组织关系转接 within the platform (or its organisation dissolved)
SUSPENDED = "suspended"  # 停止党籍
RESTORED = "restored"  # 恢复党籍
PARTY_PROBATION = "party_probation"  # 留党察看 (discipline: no vote, no election, no nomination)
PARTY_PROBATION_ENDED = "party_probation_ended"  # 恢复党员权利 at the end of 留党察看
LOST_CONTACT = "lost_contact"  # 失去联系
REGAINED_CONTACT = "regained_contact"  # 恢复联系
MOBILE_OUT = "mobile_out"  # 外出流动
MOBILE_BACK = "mobile_back"  # 流动返回
DECEASED = "deceased"  # 去世
REMOVED = "removed"  # 除名
EXPELLED = "expelled"  # 开除党籍
LEFT = "left"  # 退党

EVENT_KINDS = (
    ADMITTED,
    BECAME_FULL,
    PROBATION_EXTENDED,
    QUALIFICATION_CANCELLED,
    TRANSFERRED_IN,
    TRANSFERRED_OUT,
    TRANSFERRED,
    SUSPENDED,
    RESTORED,
    PARTY_PROBATION,
    PARTY_PROBATION_ENDED,
    LOST_CONTACT,
    REGAINED_CONTACT,
    MOBILE_OUT,
    MOBILE_BACK,
    DECEASED,
    REMOVED,
    EXPELLED,
    LEFT,
)

# Membership status: active, or how the membership ended (or left the platform).
ACTIVE = "active"
ENDING = {
    QUALIFICATION_CANCELLED: "cancelled",
    TRANSFERRED_OUT: "transferred_out",
    DECEASED: "deceased",
    REMOVED: "removed",
    EXPELLED: "expelled",
    LEFT: "left",
}
STATUSES = (ACTIVE, *ENDING.values())
NOT_YET = "not_yet"  # asked about a date before the member was admitted

FULL = "full"
PROBATIONARY = "probationary"
NORMAL = "normal"
SUSPENDED_STANDING = "suspended"

# Events that need an organisation (where the member is after the event). An admission may have
# none: the member was admitted outside the platform and arrives later by a transfer in.
NEEDS_ORGANIZATION = frozenset({ADMITTED, TRANSFERRED_IN, TRANSFERRED})


@dataclass(frozen=True)
class Event:
    kind: str
    on: datetime.date
    organization_id: int | None = None
    seq: int = 0  # order among events of one day (the record's id)
    detail: str = ""


@dataclass(frozen=True)
class State:
    status: str = NOT_YET
    category: str = ""
    standing: str = NORMAL
    organization_id: int | None = None
    joined_on: datetime.date | None = None
    full_on: datetime.date | None = None
    out_of_contact: bool = False
    out_of_contact_since: datetime.date | None = None
    mobile: bool = False
    mobile_destination: str = ""
    party_probation: bool = False

    @property
    def votes(self) -> bool:
        """A voting member (DOMAIN §4): a full member in good standing, not under Party
        probation (留党察看). Probationary members do not vote."""
        return (
            self.status == ACTIVE
            and self.category == FULL
            and self.standing == NORMAL
            and not self.party_probation
        )

    @property
    def counts(self) -> bool:
        """Is this a member of the Party on the day asked about?"""
        return self.status == ACTIVE


class TimelineError(ValueError):
    """An event that does not fit the member's state on its date. `code` is stable."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


def _apply(state: State, e: Event) -> State:
    kind = e.kind
    if kind == ADMITTED:
        return State(
            status=ACTIVE,
            category=PROBATIONARY,
            organization_id=e.organization_id,
            joined_on=e.on,
        )
    if kind == TRANSFERRED_IN:
        return replace(state, status=ACTIVE, organization_id=e.organization_id)
    if kind == TRANSFERRED:
        return replace(state, organization_id=e.organization_id)
    if kind == BECAME_FULL:
        return replace(state, category=FULL, full_on=e.on)
    if kind in ENDING:
        return replace(state, status=ENDING[kind])
    if kind == SUSPENDED:
        return replace(state, standing=SUSPENDED_STANDING)
    if kind == RESTORED:
        return replace(state, standing=NORMAL)
    if kind == PARTY_PROBATION:
        return replace(state, party_probation=True)
    if kind == PARTY_PROBATION_ENDED:
        return replace(state, party_probation=False)
    if kind == LOST_CONTACT:
        return replace(state, out_of_contact=True, out_of_contact_since=e.on)
    if kind == REGAINED_CONTACT:
        return replace(state, out_of_contact=False, out_of_contact_since=None)
    if kind == MOBILE_OUT:
        return replace(state, mobile=True, mobile_destination=e.detail)
    if kind == MOBILE_BACK:
        return replace(state, mobile=False, mobile_destination="")
    return state  # PROBATION_EXTENDED changes no state


def ordered(events) -> list[Event]:
    return sorted(events, key=lambda e: (e.on, e.seq))


def derive(events, as_of: datetime.date | None = None) -> State:
    """The state after every event dated on or before `as_of` (all events when None)."""
    state = State()
    for e in ordered(events):
        if as_of is not None and e.on > as_of:
            break
        state = _apply(state, e)
    return state


def check(events, new: Event) -> None:
    """Refuse an event that makes no sense at its date; raises TimelineError."""
    before = derive([e for e in events if (e.on, e.seq) <= (new.on, new.seq)], new.on)
    later = [e for e in events if e.on > new.on]
    kind = new.kind
    if kind == ADMITTED:
        if before.status != NOT_YET:
            raise TimelineError("the member was already admitted", "already_admitted")
        if later:
            raise TimelineError("admission must be the first event", "not_first")
        return
    if kind == TRANSFERRED_IN:
        # Admitted elsewhere (an admission with no organisation of the platform) and arriving
        # now, from an introduction letter, is a transfer in too.
        arriving = before.status == ACTIVE and before.organization_id is None
        if before.status not in (NOT_YET, "transferred_out") and not arriving:
            raise TimelineError("the member is already here", "already_active")
        if new.organization_id is None:
            raise TimelineError("a transfer in names the organisation", "organization_required")
        if any(e.kind == ADMITTED for e in later):
            raise TimelineError("admission must be the first event", "not_first")
        return
    if before.status != ACTIVE:
        raise TimelineError("the member is not an active member on that date", "not_active")
    if kind in NEEDS_ORGANIZATION and new.organization_id is None:
        raise TimelineError("the event names the organisation", "organization_required")
    if kind == TRANSFERRED and new.organization_id == before.organization_id:
        raise TimelineError("the member is already in that organisation", "same_organization")
    if kind in (BECAME_FULL, PROBATION_EXTENDED, QUALIFICATION_CANCELLED):
        if before.category != PROBATIONARY:
            raise TimelineError("only a probationary member", "not_probationary")
        if kind == BECAME_FULL and before.joined_on and new.on <= before.joined_on:
            raise TimelineError("becoming full comes after joining", "full_before_joining")
    if kind == SUSPENDED and before.standing == SUSPENDED_STANDING:
        raise TimelineError("the standing is already suspended", "already_suspended")
    if kind == PARTY_PROBATION and before.party_probation:
        raise TimelineError("already under Party probation", "already_party_probation")
    if kind == PARTY_PROBATION_ENDED and not before.party_probation:
        raise TimelineError("not under Party probation", "not_party_probation")
    if kind == RESTORED and before.standing != SUSPENDED_STANDING:
        raise TimelineError("the standing is not suspended", "not_suspended")
    if kind == LOST_CONTACT and before.out_of_contact:
        raise TimelineError("the member is already out of contact", "already_out_of_contact")
    if kind == REGAINED_CONTACT and not before.out_of_contact:
        raise TimelineError("the member is not out of contact", "not_out_of_contact")
    if kind == MOBILE_OUT and before.mobile:
        raise TimelineError("the member is already away", "already_mobile")
    if kind == MOBILE_BACK and not before.mobile:
        raise TimelineError("the member is not away", "not_mobile")
    if kind in ENDING and later:
        raise TimelineError("there are later events", "later_events")


def validate(events) -> None:
    """Check every event against the state before it, in date order: an event added, moved or
    inserted before others must leave the whole timeline consistent. Raises TimelineError."""
    seen: list[Event] = []
    for e in ordered(events):
        check(seen, e)
        seen.append(e)


def age_on(birth: datetime.date, on: datetime.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def party_years(full_on: datetime.date | None, on: datetime.date) -> int | None:
    """党龄: whole years since becoming full; None for a probationary member."""
    if full_on is None or full_on > on:
        return None
    return age_on(full_on, on)


def years_ago(years: int, on: datetime.date) -> datetime.date:
    """The date `years` years before `on` (29 February falls back to the 28th)."""
    try:
        return on.replace(year=on.year - years)
    except ValueError:
        return on.replace(year=on.year - years, day=28)


MIN_AGE_AT_JOINING = 18  # 党章 §1
PROBATION_YEARS = 1  # 党章 §7


def record_problems(
    *,
    birth_date: datetime.date | None,
    sex: str | None,
    id_birth: datetime.date | None,
    id_sex: int | None,
    joined_on: datetime.date | None,
    full_on: datetime.date | None,
    category: str | None,
) -> list[tuple[str, str]]:
    """(field, code) for every cross-field fault of a record. Codes are stable."""
    found = []
    if id_birth and birth_date and id_birth != birth_date:
        found.append(("birth_date", "birth_date_mismatch"))
    if id_sex and sex and str(id_sex) != str(sex):
        found.append(("sex", "sex_mismatch"))
    birth = id_birth or birth_date
    if birth and joined_on and age_on(birth, joined_on) < MIN_AGE_AT_JOINING:
        found.append(("joined_on", "too_young"))
    if full_on and joined_on and full_on <= joined_on:
        found.append(("full_on", "full_before_joining"))
    if category == FULL and joined_on and not full_on:
        found.append(("full_on", "full_on_required"))
    if category == PROBATIONARY and full_on:
        found.append(("full_on", "probationary_with_full_on"))
    return found


# Out of contact (DOMAIN §7): flags only; a person decides, as a separate recorded step.
SUSPEND_AFTER_MONTHS = 6
REMOVE_AFTER_YEARS = 2


def contact_flag(
    lost_on: datetime.date | None,
    suspended_on: datetime.date | None,
    today: datetime.date,
) -> tuple[str, datetime.date | None]:
    """What a member out of contact since `lost_on` is due for, and since when:
    ("suspend", day) six months after contact was lost (to the day), while the standing is
    normal (`suspended_on` None); ("remove", day) two more years after the standing was
    suspended, counted from the suspension or, when it came early (before the six months were
    up), from the day it fell due; ("", the day the next flag falls due) otherwise."""
    if lost_on is None:
        return "", None
    suspend_due = add_months(lost_on, SUSPEND_AFTER_MONTHS)
    if suspended_on is None:
        if today >= suspend_due:
            return "suspend", suspend_due
        return "", suspend_due
    remove_due = add_months(max(suspended_on, suspend_due), REMOVE_AFTER_YEARS * 12)
    if today >= remove_due:
        return "remove", remove_due
    return "", remove_due
