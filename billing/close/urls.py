"""Month close pages (/billing/months/…), in the `billing` namespace."""

from typing import Any

from django.urls import path

from billing.close import views

urlpatterns: list[Any] = [
    path("months/", views.month_list, name="month-list"),
    path("months/<str:month>/", views.month_detail, name="month-detail"),
    path("months/<str:month>/progress/", views.month_progress, name="month-progress"),
    path("months/<str:month>/check/", views.preclose_check, name="preclose-check"),
    path("months/<str:month>/close/", views.month_close, name="month-close"),
    path("months/<str:month>/reopen/", views.month_reopen, name="month-reopen"),
]
