"""API of transfers, introduction letters, mobile members and members out of contact."""

from ninja import Router

router = Router(tags=["transfers"])
