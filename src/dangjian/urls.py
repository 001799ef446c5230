"""URL map: pages per app, the API under /api/v1, language switching."""

from django.urls import include, path

from dangjian.api import api

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", api.urls),
    path("members/", include("dangjian.members.urls")),
    path("committees/", include("dangjian.committees.urls")),
    path("transfers/", include("dangjian.transfers.urls")),
    path("dues/", include("dangjian.dues.urls")),
    path("feedback/", include("dangjian.feedback.urls")),
    path("meetings/", include("dangjian.meetings.urls")),
    path("desk/", include("dangjian.feedback.urls_public")),
    path("", include("dangjian.core.urls")),
]

handler403 = "dangjian.core.views.error_403"
handler404 = "dangjian.core.views.error_404"
handler500 = "dangjian.core.views.error_500"
