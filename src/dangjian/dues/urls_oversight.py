"""URL patterns of views_oversight.py (bases, relief, arrears, reports), in the `dues` namespace."""

from django.urls import path

from . import views_oversight as views

urlpatterns: list = [
    path("org/<int:pk>/<int:year>/bases/", views.bases, name="bases"),
    path("bases/amount/", views.bases_amount, name="bases_amount"),
    path("member/<int:pk>/<int:year>/base/", views.base_edit, name="base_edit"),
    path("member/<int:pk>/relief/new/", views.relief_new, name="relief_new"),
    path("org/<int:pk>/reliefs/", views.reliefs, name="reliefs"),
    path("relief/<int:pk>/sign/", views.relief_sign, name="relief_sign"),
    path("org/<int:pk>/arrears/", views.arrears, name="arrears"),
    path("member/<int:pk>/arrears/decide/", views.arrears_decide, name="arrears_decide"),
    path("org/<int:pk>/<int:year>/report/", views.report, name="report"),
    path("org/<int:pk>/<int:year>/report.xlsx", views.report_xlsx, name="report_xlsx"),
    path("org/<int:pk>/<int:year>/<int:month>/remittance/", views.remittance, name="remittance"),
    # The same pages by organisation alone (?year=, ?month=): the dues start page links so.
    path("org/<int:pk>/bases/", views.bases_now, name="bases"),
    path("org/<int:pk>/report/", views.report_now, name="report"),
    path("org/<int:pk>/remittance/", views.remittance_now, name="remittance"),
]
