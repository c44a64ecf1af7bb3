from django.urls import path

from . import views

member = "programs/<str:program>/members/<str:member>"
urlpatterns = [
    path("programs/<str:program>/tiers/", views.TierListApi.as_view(), name="tier-list"),
    path("programs/<str:program>/tiers/<str:tier>/", views.TierDetailApi.as_view(),
         name="tier-detail"),
    path("programs/<str:program>/tier-settings/", views.TierSettingsApi.as_view(),
         name="tier-settings"),
    path(f"{member}/tier-override/", views.MemberTierOverrideApi.as_view(),
         name="member-tier-override"),
    path(f"{member}/tier-history/", views.MemberTierHistoryApi.as_view(),
         name="member-tier-history"),
    path(f"{member}/streak/pause/", views.MemberStreakPauseApi.as_view(),
         name="member-streak-pause"),
    path(f"{member}/streak/resume/", views.MemberStreakResumeApi.as_view(),
         name="member-streak-resume"),
]
