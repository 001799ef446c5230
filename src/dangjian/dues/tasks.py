"""Background work of dues: generating a year's ledger for a subtree (with progress)."""

import io
import json

from dangjian.core.jobs import job_kind
from dangjian.core.models import Organization

from . import ledger


@job_kind("dues.generate")
def generate_job(job, progress):
    org = Organization.objects.get(pk=job.params["org"])
    year = int(job.params["year"])
    result = ledger.generate(year, org, progress=progress)
    body = json.dumps({"organization": org.code, "year": year, **result}, ensure_ascii=False)
    return f"dues-ledger-{org.code}-{year}.json", io.BytesIO(body.encode("utf-8"))
