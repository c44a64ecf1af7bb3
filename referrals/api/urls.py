from django.urls import path

from . import views

P = "programs/<str:program>/"
M = f"{P}members/<str:member>/"

urlpatterns = [
    path(f"{M}referral-code/", views.MemberReferralCodeApi.as_view(), name="referral-code"),
    path(
        f"{M}referral-code/regenerate/",
        views.MemberReferralCodeRegenerateApi.as_view(), name="referral-code-regenerate",
    ),
    path(
        f"{M}referral-code/deactivate/",
        views.MemberReferralCodeDeactivateApi.as_view(), name="referral-code-deactivate",
    ),
    path(f"{P}referrals/", views.ReferralListApi.as_view(), name="referral-list"),
    path(f"{P}referrals/<str:referral>/", views.ReferralDetailApi.as_view(),
         name="referral-detail"),
    path(f"{P}referrals/<str:referral>/approve/", views.ReferralApproveApi.as_view(),
         name="referral-approve"),
    path(f"{P}referrals/<str:referral>/reject/", views.ReferralRejectApi.as_view(),
         name="referral-reject"),
    path(f"{P}referral-settings/", views.ReferralSettingsApi.as_view(),
         name="referral-settings"),
]
