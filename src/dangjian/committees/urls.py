from django.urls import path

from . import views, views_restructure

app_name = "committees"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("shape/", views.shape, name="shape"),
    path("home-card/", views.home_card, name="home_card"),
    path("orgs/<int:pk>/", views.org, name="org"),
    path("orgs/<int:pk>/members/", views.member_options, name="member_options"),
    path("orgs/<int:pk>/terms/new/", views.record_term, name="record_term"),
    path("orgs/<int:pk>/appoint/", views.appoint, name="appoint"),
    path("holders/<int:pk>/end/", views.end_office, name="end_office"),
    path("terms/<int:pk>/shift/", views.shift_due_date, name="shift_due_date"),
    path("orgs/<int:pk>/elections/new/", views.election_new, name="election_new"),
    path("elections/<int:pk>/", views.election, name="election"),
    path("elections/<int:pk>/decide/", views.decide, name="decide"),
    path("orgs/<int:pk>/merge/", views_restructure.merge, name="merge"),
    path("orgs/<int:pk>/split/", views_restructure.split, name="split"),
    path("orgs/<int:pk>/dissolve/", views_restructure.dissolve, name="dissolve"),
]
