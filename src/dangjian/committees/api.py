"""API of committees, terms, office-holders, elections, re-election and shape warnings."""

from ninja import Router

router = Router(tags=["committees"])
