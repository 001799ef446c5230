"""Member records in the API: /api/v1/members. Thin over members.selectors and services."""

from ninja import Router

router = Router(tags=["members"])
