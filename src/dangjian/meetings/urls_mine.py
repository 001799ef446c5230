from django.urls import path

from . import views_mine

urlpatterns = [
    path("mine/<int:pk>/", views_mine.mine_detail, name="mine_detail"),
]
