from django.urls import path

from . import views_public

app_name = "desk"

urlpatterns = [
    path("", views_public.home, name="home"),
]
