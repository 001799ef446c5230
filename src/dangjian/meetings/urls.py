"""URL map of organisational life: one module per page group, all in the `meetings` namespace."""

from . import urls_compliance, urls_docs, urls_mine, urls_pages

app_name = "meetings"

urlpatterns = (
    urls_pages.urlpatterns
    + urls_docs.urlpatterns
    + urls_mine.urlpatterns
    + urls_compliance.urlpatterns
)
