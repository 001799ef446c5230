from django.contrib.auth import views as auth_views
from django.urls import path

from . import captcha, views

app_name = "core"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("profile/", views.profile, name="profile"),
    path("profile/password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("profile/tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
    path("orgs/", views.org_tree, name="org_tree"),
    path("orgs/<int:pk>/", views.org_detail, name="org_detail"),
    path("orgs/<int:pk>/children/", views.org_children, name="org_children"),
    path("orgs/<int:parent_pk>/new/", views.org_create, name="org_create"),
    path("orgs/<int:pk>/edit/", views.org_edit, name="org_edit"),
    path("orgs/<int:pk>/move/", views.org_move, name="org_move"),
    path("orgs/<int:pk>/dissolve/", views.org_dissolve, name="org_dissolve"),
    path("orgs/<int:pk>/roles/", views.role_assign, name="role_assign"),
    path("roles/<int:pk>/revoke/", views.role_revoke, name="role_revoke"),
    path("calendar/", views.calendar_year, name="calendar"),
    path("calendar/<int:year>/", views.calendar_year, name="calendar_year"),
    path("calendar/days/", views.calendar_set, name="calendar_set"),
    path("calendar/days/remove/", views.calendar_remove, name="calendar_remove"),
    path("audit/", views.audit_list, name="audit_list"),
    path("audit/export/", views.audit_export, name="audit_export"),
    path("jobs/<uuid:pk>/", views.job_detail, name="job_detail"),
    path("jobs/<uuid:pk>/progress/", views.job_progress, name="job_progress"),
    path("jobs/<uuid:pk>/download/", views.job_download, name="job_download"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read/", views.notification_read, name="notifications_read"),
    path("notifications/<int:pk>/read/", views.notification_read, name="notification_read"),
    # public: the CAPTCHA of the forms that need no account
    path("captcha/new/", captcha.new_view, name="captcha_new"),
    path("captcha/<str:token>.png", captcha.image_view, name="captcha_image"),
]
