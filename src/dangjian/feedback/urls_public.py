"""The public request desk at /desk/: no account needed."""

from django.urls import path

from . import views_public as views

app_name = "desk"

urlpatterns = [
    path("", views.home, name="home"),
    path("at/<slug:code>/", views.at_desk, name="at"),
    path("new/", views.new, name="new"),
    path("done/", views.done, name="done"),
    path("track/", views.track, name="track"),
    path("track/<str:number>/", views.status, name="status"),
    path("track/<str:number>/add/", views.add, name="add"),
    path("track/<str:number>/rate/", views.rate, name="rate"),
    path("track/<str:number>/photos/<int:pk>/", views.photo, name="photo"),
    path("figures/", views.figures, name="figures"),
]
