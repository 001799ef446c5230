"""Long work in the background: start a job, report progress, keep its result file.

A job kind is a function `handler(job, progress) -> (file name, open binary file)` registered
with @job_kind. `start_job` records the job and enqueues `tasks.run_job` after the transaction
commits; the worker (`dangjian worker`) claims it with a conditional UPDATE, so two workers never
run the same job.
"""

import logging
from collections.abc import Callable

from django.core.files import File
from django.db import transaction
from django.utils import timezone

from .models import Job, JobStatus

logger = logging.getLogger(__name__)
HANDLERS: dict[str, Callable] = {}


def job_kind(name: str):
    def register(func):
        HANDLERS[name] = func
        return func

    return register


def start_job(*, actor, kind: str, title: str, params: dict) -> Job:
    from .tasks import run_job

    if kind not in HANDLERS:
        raise ValueError(f"unknown job kind {kind!r}")
    job = Job.objects.create(kind=kind, title=title[:200], user=actor, params=params)
    transaction.on_commit(lambda: run_job.enqueue(str(job.pk)))
    return job


class Progress:
    """Writes progress at most every `every` steps, so a big job does not write once a row."""

    def __init__(self, job: Job, every: int = 500):
        self.job = job
        self.every = every
        self._last = 0

    def total(self, n: int) -> None:
        Job.objects.filter(pk=self.job.pk).update(total=n)

    def advance(self, done: int) -> None:
        if done - self._last >= self.every:
            self._last = done
            Job.objects.filter(pk=self.job.pk).update(done=done)


def execute(job_id: str) -> bool:
    """Claim and run one job. Returns False when another worker already had it."""
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, started_at=now
    )
    if claimed != 1:
        return False
    job = Job.objects.get(pk=job_id)
    try:
        name, handle = HANDLERS[job.kind](job, Progress(job))
        # Progress wrote total/done to the database, not to this object: keep them.
        fresh = Job.objects.filter(pk=job.pk).values("total", "done").get()
        job.total = max(job.total, fresh["total"])
        job.done = max(job.done, fresh["done"])
        with handle:
            job.result.save(name, File(handle), save=False)
        job.result_name = name
        job.status = JobStatus.DONE
        job.done = max(job.done, job.total)
    except Exception as exc:  # a failed job is shown to its owner, never lost silently
        logger.exception("job %s (%s) failed", job.pk, job.kind)
        job.status = JobStatus.FAILED
        job.message = str(exc)[:2000]
    job.finished_at = timezone.now()
    job.save()
    return True
