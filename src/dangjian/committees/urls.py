from django.urls import path

from . import views

app_name = "committees"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("orgs/<int:pk>/", views.org, name="org"),
]
