from django.urls import path

from . import views

app_name = "events"

urlpatterns = [
    path("demo/webhook-receiver/", views.demo_receiver, name="demo-receiver"),
]
