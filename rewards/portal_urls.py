from django.urls import path

from . import views

app_name = "rewards_portal"

urlpatterns = [
    path("rewards/", views.catalog, name="catalog"),
    path(
        "rewards/<str:card_id>/<int:reward_id>/redeem/", views.redeem, name="redeem"
    ),
    path("vouchers/", views.vouchers, name="vouchers"),
    path("vouchers/<str:code>/", views.voucher, name="voucher"),
]
