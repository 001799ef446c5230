"""Background tasks of the core app (run by `dangjian worker`)."""

from django_tasks import task


@task()
def run_job(job_id: str) -> None:
    from . import exports  # noqa: F401  (registers the job kinds)
    from .jobs import execute

    execute(job_id)
