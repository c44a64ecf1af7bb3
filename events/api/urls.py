from django.urls import path

from . import views

W = "webhooks/<str:webhook>/"

urlpatterns = [
    path("webhooks/", views.WebhookListApi.as_view(), name="webhook-list"),
    path(W, views.WebhookDetailApi.as_view(), name="webhook-detail"),
    path(f"{W}test/", views.WebhookTestApi.as_view(), name="webhook-test"),
    path(f"{W}rotate-secret/", views.WebhookRotateSecretApi.as_view(),
         name="webhook-rotate-secret"),
    path(f"{W}deliveries/", views.WebhookDeliveryListApi.as_view(), name="webhook-deliveries"),
    path(f"{W}deliveries/<str:delivery>/resend/", views.WebhookDeliveryResendApi.as_view(),
         name="webhook-delivery-resend"),
    path("events/", views.EventListApi.as_view(), name="event-list"),
    path("events/<str:event>/", views.EventDetailApi.as_view(), name="event-detail"),
]
