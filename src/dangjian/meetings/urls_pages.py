"""The secretary's pages: the list, the calendar, the meeting form and page, the sign-in screen
and local frequency rules."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.meeting_list, name="list"),
    path("calendar/", views.month_calendar, name="calendar"),
    path("new/", views.meeting_new, name="new"),
    path("rules/", views.frequency_rules, name="rules"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/edit/", views.meeting_edit, name="edit"),
    path("<int:pk>/screen/", views.screen, name="screen"),
    path("<int:pk>/screen/code/", views.screen_code, name="screen_code"),
    path("<int:pk>/files/<int:file_pk>/", views.meeting_file, name="file"),
] + [
    # The actions of a meeting's page, each a POST answered by the page (views.ACTIONS).
    path(f"<int:pk>/{slug}/", views.act, {"action": action}, name=name)
    for slug, name, action in (
        ("cancel", "cancel", "cancel"),
        ("notice", "notice", "notice"),
        ("attendance", "attendance", "attendance"),
        ("leave", "leave", "leave"),
        ("held", "held", "held"),
        ("minutes", "minutes", "minutes"),
        ("files", "file_add", "file"),
        ("resolutions", "resolution", "resolution"),
    )
]
