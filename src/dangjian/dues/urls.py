from django.urls import path

from . import urls_oversight, urls_reconcile, views

app_name = "dues"

urlpatterns = [
    path("", views.home, name="home"),
    path("mine/", views.mine, name="mine"),
    path("org/<int:pk>/<int:year>/", views.grid, name="grid"),
    path("org/<int:pk>/<int:year>/record/", views.record_month, name="record_month"),
    path("org/<int:pk>/<int:year>/remind/", views.remind, name="remind"),
    path("org/<int:pk>/<int:year>/generate/", views.generate, name="generate"),
    path("org/<int:pk>/<int:year>/generate/<uuid:job>/", views.generation, name="generation"),
    path("org/<int:pk>/payments/", views.payment_list, name="payments"),
    path("member/<int:member_pk>/pay/", views.pay, name="pay"),
    path("member/<int:member_pk>/voluntary/", views.voluntary, name="voluntary"),
    path("payments/<int:pk>/", views.receipt, name="receipt"),
    path("payments/<int:pk>/reverse/", views.reverse_payment, name="reverse"),
]
# Bases, relief, arrears and reports; bank statements and base imports (their own files).
urlpatterns += urls_oversight.urlpatterns
urlpatterns += urls_reconcile.urlpatterns
