"""Roster exports and structure figures in the API: /api/v1/member-exports.

Thin over members.exporting and members.structure. An export runs as a background job: start it,
then poll its status; the file is downloaded from the job's page in the web UI.
"""

import datetime
import uuid

from django.utils import timezone
from django.utils.translation import get_language
from ninja import Field, Query, Router, Schema, Status

from dangjian.core import selectors
from dangjian.core.api import ERRORS, READ_ERRORS
from dangjian.core.errors import NotFound, ValidationFailed
from dangjian.core.models import Job

from . import exporting, structure
from .columns import COLUMNS, DEFAULT_KEYS

router = Router(tags=["member export"])

FILTER_HELP = (
    "the member list's filters, by name: "
    + ", ".join(exporting.FILTER_KEYS)
    + ' (e.g. {"org": 12, "category": "probationary"}; status "" means every status)'
)


class ExportIn(Schema):
    columns: list[str] = Field(
        default_factory=list,
        description="column keys, in order; default "
        + ",".join(DEFAULT_KEYS)
        + "; known: "
        + ",".join(c.key for c in COLUMNS),
    )
    filters: dict[str, str | int | bool | None] = Field(
        default_factory=dict, description=FILTER_HELP
    )
    full: bool = Field(
        False, description="full ID and phone numbers (needs member.view_sensitive; audited)"
    )


class JobOut(Schema):
    id: uuid.UUID
    kind: str
    title: str
    status: str = Field(description="queued, running, done or failed")
    done: int
    total: int
    percent: int
    message: str
    result_name: str
    created_at: datetime.datetime
    finished_at: datetime.datetime | None
    download_path: str | None = Field(
        None, description="when done: the file, for a signed-in browser session"
    )


class StructureQuery(Schema):
    org: int | None = Field(None, description="organisation id; default: the top of your scope")


class TableOut(Schema):
    key: str
    title: str
    chart: str
    labels: list[str]
    values: list[int]
    total: int


class StructureOut(Schema):
    org_id: int | None
    org_code: str | None
    org_name: str | None
    as_of: datetime.date
    total: int = Field(description="active members")
    tables: list[TableOut]


def _job_out(job: Job) -> JobOut:
    from django.urls import reverse

    return JobOut(
        id=job.pk,
        kind=job.kind,
        title=job.title,
        status=job.status,
        done=job.done,
        total=job.total,
        percent=job.percent,
        message=job.message,
        result_name=job.result_name,
        created_at=job.created_at,
        finished_at=job.finished_at,
        download_path=reverse("core:job_download", args=[job.pk]) if job.result else None,
    )


def _filters(raw: dict) -> dict[str, str]:
    unknown = [k for k in raw if k not in exporting.FILTER_KEYS]
    if unknown:
        raise ValidationFailed(
            f"unknown filter {unknown[0]}; known: " + ", ".join(exporting.FILTER_KEYS),
            code="unknown_filter",
            field=f"filters.{unknown[0]}",
        )
    out = {}
    for key, value in raw.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        out[key] = "" if value is None else str(value)
    return out


@router.post(
    "",
    response={201: JobOut, **ERRORS},
    summary="Start a roster export (xlsx) as a background job",
)
def start_export(request, payload: ExportIn):
    try:
        job = exporting.start_export(
            actor=request.user,
            params=_filters(payload.filters),
            keys=payload.columns,
            full=payload.full,
            language=get_language(),
        )
    except ValidationFailed as exc:
        if exc.field and exc.field in exporting.FILTER_KEYS:
            exc.field = f"filters.{exc.field}"
        raise
    return Status(201, _job_out(job))


@router.get(
    "/structure",
    response={200: StructureOut, **READ_ERRORS},
    summary="Structure of the membership of an organisation's subtree",
)
def structure_figures(request, query: Query[StructureQuery]):
    user = request.user
    if query.org is not None:
        org = selectors.get_organization(user, query.org, "member.view")
    else:
        org = structure.scope_top(user)
        if org is None:
            raise NotFound("organisation not found")
    today = timezone.localdate()
    tables = structure.figures(user, org, today)
    return StructureOut(
        org_id=org.pk if org else None,
        org_code=org.code if org else None,
        org_name=org.name if org else None,
        as_of=today,
        total=tables[0].total,
        tables=[TableOut(**t.as_dict()) for t in tables],
    )


@router.get(
    "/{uuid:job_id}",
    response={200: JobOut, **READ_ERRORS},
    summary="Status of an export job",
)
def export_status(request, job_id: uuid.UUID):
    job = Job.objects.filter(pk=job_id, user=request.user, kind=exporting.JOB_KIND).first()
    if job is None:
        raise NotFound("job not found")
    return _job_out(job)
