"""URL patterns of views_reconcile.py (bank statements, base imports), in the `dues` namespace."""

urlpatterns: list = []
