from django.urls import path
from django.views.i18n import set_language

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("memberships/<str:card_id>/", views.member_history, name="member"),
    path("join/<str:program_id>/", views.join, name="join"),
    path("language/", set_language, name="set_language"),
]
