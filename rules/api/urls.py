from django.urls import path

from . import views

urlpatterns = [
    path("programs/<str:program>/rules/", views.RuleListApi.as_view(), name="rule-list"),
    path(
        "programs/<str:program>/rules/<str:rule>/", views.RuleDetailApi.as_view(),
        name="rule-detail",
    ),
    path("programs/<str:program>/orders/", views.OrderListApi.as_view(), name="order-list"),
    path(
        "programs/<str:program>/orders/preview/", views.OrderPreviewApi.as_view(),
        name="order-preview",
    ),
    path(
        "programs/<str:program>/orders/batch/", views.OrderBatchApi.as_view(),
        name="order-batch",
    ),
    path(
        "programs/<str:program>/orders/<str:order_id>/", views.OrderDetailApi.as_view(),
        name="order-detail",
    ),
    path(
        "programs/<str:program>/orders/<str:order_id>/refund/", views.OrderRefundApi.as_view(),
        name="order-refund",
    ),
    path("programs/<str:program>/events/", views.EventListApi.as_view(), name="event-list"),
]
