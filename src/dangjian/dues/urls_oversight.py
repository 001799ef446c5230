"""URL patterns of views_oversight.py (bases, relief, arrears, reports), in the `dues` namespace."""

urlpatterns: list = []
