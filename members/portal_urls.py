from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.i18n import set_language

from accounts.views import PortalLoginView

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("memberships/<str:card_id>/", views.member_history, name="member"),
    path("join/<str:program_id>/", views.join, name="join"),
    path("accounts/login/", PortalLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("language/", set_language, name="set_language"),
]
