from django.urls import path

from . import views

app_name = "rules_portal"

urlpatterns = [
    path("earn/", views.how_to_earn, name="how-to-earn"),
]
