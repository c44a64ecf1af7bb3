from django.urls import path

from . import views

app_name = "referrals_portal"

urlpatterns = [
    path("r/<str:code>/", views.landing, name="landing"),
    path("referrals/", views.index, name="index"),
    path("referrals/<str:card_id>/code/", views.code_create, name="code"),
]
