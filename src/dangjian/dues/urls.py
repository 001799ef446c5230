from django.urls import path

from . import urls_oversight, urls_reconcile, views

app_name = "dues"

urlpatterns = [
    path("", views.home, name="home"),
    path("mine/", views.mine, name="mine"),
]
# Bases, relief, arrears and reports; bank statements and base imports (their own files).
urlpatterns += urls_oversight.urlpatterns
urlpatterns += urls_reconcile.urlpatterns
