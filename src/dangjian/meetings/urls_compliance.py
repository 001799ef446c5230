from django.urls import path

from . import views_compliance

urlpatterns = [
    path("compliance/", views_compliance.compliance, name="compliance"),
]
