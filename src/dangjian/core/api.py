"""API of the organisation tree and the acting account; thin over selectors and services."""

import datetime
from typing import Annotated

from django.db.models import OuterRef, Subquery
from django.db.models.functions import Length, Substr
from ninja import Field, Path, Query, Router, Schema, Status
from ninja.pagination import PageNumberPagination, paginate

from . import selectors, services
from .models import Organization, OrgKind, OrgStatus, UnitType

router = Router(tags=["organisations"])

# Ids are positive 64-bit integers: anything else answers 422 naming the field, before it can
# reach a query (SQLite overflows on a larger number in a list of ids).
MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
PathId = Path[int, {"ge": 1, "le": MAX_ID}]


def IdField(default=..., **kwargs):  # noqa: N802 (reads like the Field it is)
    """Field(...) of an id: positive and 64-bit."""
    return Field(default, ge=1, le=MAX_ID, **kwargs)


class ErrorDetail(Schema):
    loc: list[str | int]
    msg: str
    code: str | None = Field(None, description="stable code of this problem, when there is one")


class Error(Schema):
    code: str = Field(description="stable machine-readable code, e.g. duplicate_code")
    message: str
    field: str | None = Field(None, description="the input field at fault, when there is one")
    errors: list[ErrorDetail] | None = Field(None, description="with code invalid: every problem")


class OrgOut(Schema):
    id: int
    code: str
    name: str
    short_name: str
    kind: OrgKind
    unit_type: UnitType
    status: OrgStatus
    established_on: datetime.date | None
    dissolved_on: datetime.date | None
    contact_person: str
    contact_phone: str
    display_order: int
    depth: int
    children: int = Field(alias="numchild")
    parent_id: int | None = None


class OrgCreate(Schema):
    parent_id: int | None = IdField(
        None, description="omit for a top-level committee (administrators only)"
    )
    code: str = Field(max_length=32)
    name: str = Field(max_length=128)
    kind: OrgKind
    short_name: str = Field("", max_length=64)
    unit_type: UnitType = UnitType.OTHER
    established_on: datetime.date | None = None
    contact_person: str = Field("", max_length=64)
    contact_phone: str = Field("", max_length=32)
    display_order: int = Field(0, ge=-services.DISPLAY_ORDER_MAX, le=services.DISPLAY_ORDER_MAX)


class OrgUpdate(Schema):
    code: str | None = Field(None, max_length=32)
    name: str | None = Field(None, max_length=128)
    kind: OrgKind | None = None
    short_name: str | None = Field(None, max_length=64)
    unit_type: UnitType | None = None
    established_on: datetime.date | None = None
    contact_person: str | None = Field(None, max_length=64)
    contact_phone: str | None = Field(None, max_length=32)
    display_order: int | None = Field(
        None, ge=-services.DISPLAY_ORDER_MAX, le=services.DISPLAY_ORDER_MAX
    )


class OrgMove(Schema):
    parent_id: Id


class OrgDissolve(Schema):
    on: datetime.date | None = None
    move_members_to: int | None = IdField(None, description="organisation that takes the members")


class OrgFilter(Schema):
    root: int | None = IdField(
        None, description="id of the subtree's root; default: the whole scope"
    )
    kind: OrgKind | None = None
    status: OrgStatus | None = None
    q: str | None = Field(None, description="name or code contains")


class RoleOut(Schema):
    role: str
    organization_id: int
    organization_code: str


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    roles: list[RoleOut]


def _with_parent_id(qs):
    parent = Organization.objects.filter(
        path=Substr(OuterRef("path"), 1, Length(OuterRef("path")) - Organization.steplen)
    ).values("id")[:1]
    return qs.annotate(parent_id=Subquery(parent))


def _one(request, org_id) -> Organization:
    return _with_parent_id(Organization.objects.filter(pk=org_id)).get()


# Every operation needs a token: 401 everywhere. 422 answers input the schema refuses.
READ_ERRORS = {401: Error, 404: Error, 422: Error}
ERRORS = {400: Error, 401: Error, 403: Error, 404: Error, 409: Error, 422: Error}


@router.get(
    "/orgs", response={200: list[OrgOut], **READ_ERRORS}, summary="List organisations of a subtree"
)
@paginate(PageNumberPagination, page_size=50)
def list_orgs(request, filters: Query[OrgFilter]):
    root = (
        selectors.get_organization(request.user, filters.root) if filters.root is not None else None
    )
    qs = selectors.subtree(request.user, root, kind=filters.kind, status=filters.status)
    if filters.q:
        from django.db.models import Q

        qs = qs.filter(Q(name__icontains=filters.q) | Q(code__icontains=filters.q))
    return _with_parent_id(qs)


@router.get("/orgs/{org_id}", response={200: OrgOut, **READ_ERRORS}, summary="One organisation")
def get_org(request, org_id: PathId):
    org = selectors.get_organization(request.user, org_id)
    return _one(request, org.pk)


@router.post("/orgs", response={201: OrgOut, **ERRORS}, summary="Create an organisation")
def create_org(request, payload: OrgCreate):
    parent = (
        selectors.get_organization(request.user, payload.parent_id)
        if payload.parent_id is not None
        else None
    )
    values = payload.dict(exclude={"parent_id"})
    org = services.create_organization(actor=request.user, parent=parent, **values)
    return Status(201, _one(request, org.pk))


@router.patch("/orgs/{org_id}", response={200: OrgOut, **ERRORS}, summary="Edit an organisation")
def update_org(request, org_id: PathId, payload: OrgUpdate):
    org = selectors.get_organization(request.user, org_id)
    values = payload.dict(exclude_unset=True)
    for key in ("code", "name", "kind", "unit_type", "display_order"):
        if key in values and values[key] is None:
            values.pop(key)  # null on a required field: leave it as it is
    for key in ("short_name", "contact_person", "contact_phone"):
        if key in values and values[key] is None:
            values[key] = ""  # null on an optional text: clear it (the columns are NOT NULL)
    services.update_organization(actor=request.user, org=org, **values)
    return _one(request, org.pk)


@router.post("/orgs/{org_id}/move", response={200: OrgOut, **ERRORS}, summary="Move under another")
def move_org(request, org_id: PathId, payload: OrgMove):
    org = selectors.get_organization(request.user, org_id)
    parent = selectors.get_organization(request.user, payload.parent_id)
    services.move_organization(actor=request.user, org=org, new_parent=parent)
    return _one(request, org.pk)


@router.post(
    "/orgs/{org_id}/dissolve",
    response={200: OrgOut, **ERRORS},
    summary="Dissolve",
    description="Its members move to `move_members_to` (if any), its offices and its current "
    "term end, on `on`. Refused with 400 has_children, has_members, transfers_pending (a "
    "transfer from or to its subtree is under way) or guests_present (mobile members of "
    "elsewhere take part in its life: end their stays, or merge it through the committees "
    "API, which moves them).",
)
def dissolve_org(request, org_id: PathId, payload: OrgDissolve):
    org = selectors.get_organization(request.user, org_id)
    target = (
        selectors.get_organization(request.user, payload.move_members_to)
        if payload.move_members_to is not None
        else None
    )
    services.dissolve_organization(
        actor=request.user, org=org, on=payload.on, move_members_to=target
    )
    return _one(request, org.pk)


@router.get(
    "/me", response={200: MeOut, 401: Error}, tags=["accounts"], summary="The account of the token"
)
def me(request):
    user = request.user
    roles = [
        RoleOut(
            role=a.role, organization_id=a.organization_id, organization_code=a.organization.code
        )
        for a in user.role_assignments.select_related("organization").order_by("id")
    ]
    return MeOut(id=user.pk, username=user.username, display_name=user.display_name, roles=roles)
