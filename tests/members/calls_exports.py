"""Rows of the OpenAPI guard (tests/core/test_openapi.py) for /api/v1/member-exports.

Same shape as CALLS there: (method, path) -> function(ctx) giving {"path", "query", "body"}; each
call must succeed for oscar (org admin of the town committee). ctx has "tree", "people", "admin".
"""

from dangjian.members import exporting

API = "/api/v1"
E = f"{API}/member-exports"


def _job(ctx):
    """An export job of oscar's, started through the service."""
    if "export_job" not in ctx:
        ctx["export_job"] = exporting.start_export(
            actor=ctx["people"]["oscar"],
            params={"org": ctx["tree"]["town"].pk},
            keys=["name", "organization"],
        )
    return ctx["export_job"]


EXPORT_CALLS = {
    ("post", E): lambda ctx: {
        "body": {
            "columns": ["name", "sex", "id_number", "joined_on", "organization"],
            "filters": {"org": ctx["tree"]["town"].pk, "category": "full", "status": "active"},
            "full": True,
        }
    },
    ("get", f"{E}/structure"): lambda ctx: {"query": {"org": ctx["tree"]["town"].pk}},
    ("get", f"{E}/{{job_id}}"): lambda ctx: {"path": {"job_id": str(_job(ctx).pk)}},
}
