"""A member's own meetings and the sign-in page the QR code opens."""

from django.urls import path

from . import views_mine

urlpatterns = [
    path("mine/", views_mine.mine, name="mine"),
    path("mine/<int:pk>/", views_mine.mine_detail, name="mine_detail"),
    path("mine/<int:pk>/leave/", views_mine.mine_leave, name="mine_leave"),
    path("mine/<int:pk>/self-assessment/", views_mine.mine_self_assess, name="mine_self_assess"),
    path("mine/<int:pk>/ratings/", views_mine.mine_rate, name="mine_rate"),
    path("sign-in/<int:pk>/", views_mine.sign_in, name="sign_in"),
]
