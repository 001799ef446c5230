"""URL patterns of views_reconcile.py (bank statements, base imports), in the `dues` namespace."""

from django.urls import path

from . import views_reconcile as views

urlpatterns: list = [
    path("org/<int:pk>/statements/", views.statements, name="statements"),
    path("statements/<int:pk>/", views.statement, name="statement"),
    path(
        "statements/<int:pk>/lines/<int:line_pk>/choose/",
        views.statement_choose,
        name="statement_choose",
    ),
    path("statements/<int:pk>/confirm/", views.statement_confirm, name="statement_confirm"),
    path("org/<int:pk>/<int:year>/bases/import/", views.bases_import, name="bases_import"),
    path(
        "org/<int:pk>/<int:year>/bases/template.xlsx",
        views.bases_template,
        name="bases_template",
    ),
]
