"""Staff pages of requests from the public, at /feedback/."""

from django.urls import path

from . import views

app_name = "feedback"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/photo/<int:photo_pk>/", views.photo, name="photo"),
    path("<int:pk>/reveal/", views.reveal, name="reveal"),
    path("<int:pk>/<slug:action>/", views.act, name="act"),
    path("targets/", views.targets, name="targets"),
    path("figures/", views.figures, name="figures"),
    path("figures.xlsx", views.figures_xlsx, name="figures_xlsx"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/try/", views.route_try, name="route_try"),
    path("settings/desk/new/", views.desk_edit, name="desk_new"),
    path("settings/desk/<int:pk>/", views.desk_edit, name="desk_edit"),
    path("desk/<int:pk>/poster/", views.desk_poster, name="desk_poster"),
    path("settings/rule/new/", views.rule_edit, name="rule_new"),
    path("settings/rule/<int:pk>/", views.rule_edit, name="rule_edit"),
    path("settings/rule/<int:pk>/delete/", views.rule_delete, name="rule_delete"),
    path("settings/deadline/", views.deadline_save, name="deadline_save"),
]
