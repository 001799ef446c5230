from django.urls import path

from . import views

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
    # export, documents and charts (members/exporting.py, views_export.py)
]
