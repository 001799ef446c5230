from django.urls import path

from . import views, views_export, views_import

app_name = "members"

urlpatterns = [
    path("", views.member_list, name="list"),
    path("new/", views.member_create, name="create"),
    path("me/", views.my_record, name="me"),
    path("<int:pk>/", views.member_detail, name="detail"),
    path("<int:pk>/edit/", views.member_edit, name="edit"),
    path("<int:pk>/reveal/", views.member_reveal, name="reveal"),
    path("<int:pk>/events/new/", views.event_create, name="event_create"),
    path("<int:pk>/photo/", views.photo_upload, name="photo"),
    path("<int:pk>/documents/new/", views.document_upload, name="document_upload"),
    path("<int:pk>/documents/<int:doc>/", views.document_download, name="document_download"),
    path("<int:pk>/documents/<int:doc>/delete/", views.document_delete, name="document_delete"),
    path("<int:pk>/<str:kind>/new/", views.related_edit, name="related_create"),
    path("<int:pk>/<str:kind>/<int:row>/edit/", views.related_edit, name="related_edit"),
    path("<int:pk>/<str:kind>/<int:row>/delete/", views.related_delete, name="related_delete"),
    # import (members/importing.py, views_import.py)
    path("import/", views_import.import_upload, name="import_upload"),
    path("import/<uuid:pk>/", views_import.import_mapping, name="import_mapping"),
    path("import/<uuid:pk>/preview/", views_import.import_preview, name="import_preview"),
    path("import/<uuid:pk>/report/", views_import.import_report, name="import_report"),
    path("import/<uuid:pk>/commit/", views_import.import_commit, name="import_commit"),
    path("import/<uuid:pk>/status/", views_import.import_status, name="import_status"),
    # export, documents and charts (members/exporting.py, views_export.py)
    path("export/", views_export.export, name="export"),
    path("roster.pdf", views_export.roster_pdf, name="roster_pdf"),
    path("cards.pdf", views_export.cards_pdf, name="cards_pdf"),
    path("<int:pk>/card.pdf", views_export.card_pdf, name="card_pdf"),
    path("charts/", views_export.charts, name="charts"),
    path("charts.xlsx", views_export.charts_xlsx, name="charts_xlsx"),
]
