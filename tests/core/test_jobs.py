"""Long work runs as a background job: the audit export through the real task worker."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from openpyxl import load_workbook

from dangjian.core import jobs
from dangjian.core.models import AuditEvent, Job, JobStatus


def run_worker():
    call_command("db_worker", batch=True, reload=False, startup_delay=False, verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_audit_export_runs_in_the_worker_and_is_scoped(people, tree, client_for):
    # transaction=True: the job is enqueued on commit, and the worker closes old connections
    # as a real worker does.
    oscar = client_for(people["oscar"])
    # A formula-looking label must come out as text.
    from dangjian.core import services

    services.update_organization(actor=people["oscar"], org=tree["branch_a"], name="=cmd|x")
    response = oscar.post(reverse("core:audit_export") + "?org=t01")  # codes ignore case
    job = Job.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("core:job_detail", args=[job.pk])
    assert job.status == JobStatus.QUEUED
    page = oscar.get(reverse("core:job_progress", args=[job.pk]))
    assert b'data-status="queued"' in page.content

    run_worker()

    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.message
    page = oscar.get(reverse("core:job_progress", args=[job.pk]))
    assert b"job-download" in page.content and b"hx-trigger" not in page.content
    download = oscar.get(reverse("core:job_download", args=[job.pk]))
    assert download.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(download.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    labels = [row[7] for row in rows[1:]]
    expected = AuditEvent.objects.filter(org_path__startswith=tree["town"].path).count()
    assert len(rows) - 1 == expected > 0
    assert "'=cmd|x" in labels  # neutralised
    # nothing from the other township (outside T01) leaks in
    assert "河口镇党委" not in labels
    assert AuditEvent.objects.filter(action="audit.export", user=people["oscar"]).count() == 1


@pytest.mark.django_db
def test_a_job_is_seen_only_by_its_owner(people, client_for, django_capture_on_commit_callbacks):
    job = jobs.start_job(actor=people["oscar"], kind="audit_export", title="x", params={})
    for name in ("alice", "bob"):
        c = client_for(people[name])
        for view in ("core:job_detail", "core:job_progress", "core:job_download"):
            assert c.get(reverse(view, args=[job.pk])).status_code == 404


@pytest.mark.django_db
def test_a_job_runs_once_even_when_two_workers_pick_it(people):
    job = Job.objects.create(kind="audit_export", title="x", user=people["oscar"], params={})
    assert jobs.execute(str(job.pk)) is True
    assert jobs.execute(str(job.pk)) is False
    job.refresh_from_db()
    assert job.status == JobStatus.DONE


@pytest.mark.django_db
def test_export_needs_the_permission(people, client_for):
    bob = client_for(people["bob"])  # a secretary: audit.view but not audit.export
    assert bob.post(reverse("core:audit_export")).status_code == 404
    assert not Job.objects.exists()
