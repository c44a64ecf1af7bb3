from django.urls import path

from . import views

P = "programs/<str:program>/"

urlpatterns = [
    path(f"{P}rewards/", views.RewardListApi.as_view(), name="reward-list"),
    path(f"{P}rewards/<str:reward>/", views.RewardDetailApi.as_view(), name="reward-detail"),
    path(
        f"{P}redemptions/validate/",
        views.RedemptionValidateApi.as_view(), name="redemption-validate",
    ),
    path(f"{P}redemptions/", views.RedemptionListApi.as_view(), name="redemption-list"),
    path(
        f"{P}redemptions/<str:redemption>/",
        views.RedemptionDetailApi.as_view(), name="redemption-detail",
    ),
    path(
        f"{P}redemptions/<str:redemption>/confirm/",
        views.RedemptionConfirmApi.as_view(), name="redemption-confirm",
    ),
    path(
        f"{P}redemptions/<str:redemption>/release/",
        views.RedemptionReleaseApi.as_view(), name="redemption-release",
    ),
    path(f"{P}vouchers/", views.VoucherListApi.as_view(), name="voucher-list"),
    path(f"{P}vouchers/<str:code>/", views.VoucherDetailApi.as_view(), name="voucher-detail"),
    path(f"{P}vouchers/<str:code>/use/", views.VoucherUseApi.as_view(), name="voucher-use"),
]
