from django.urls import path

from . import views

app_name = "tiers_portal"

urlpatterns = [
    path("tiers/", views.status, name="status"),
    path("tiers/<str:card_id>/streak/pause/", views.streak_pause, name="streak_pause"),
    path("tiers/<str:card_id>/streak/resume/", views.streak_resume, name="streak_resume"),
]
