from django.urls import path

from . import views

urlpatterns = [
    path("programs/", views.ProgramListApi.as_view(), name="program-list"),
    path("programs/<str:program>/", views.ProgramDetailApi.as_view(), name="program-detail"),
    path("programs/<str:program>/members/", views.MemberListApi.as_view(), name="member-list"),
    path(
        "programs/<str:program>/members/<str:member>/",
        views.MemberDetailApi.as_view(), name="member-detail",
    ),
    path(
        "programs/<str:program>/members/<str:member>/suspend/",
        views.MemberSuspendApi.as_view(), name="member-suspend",
    ),
    path(
        "programs/<str:program>/members/<str:member>/reactivate/",
        views.MemberReactivateApi.as_view(), name="member-reactivate",
    ),
    path(
        "programs/<str:program>/members/<str:member>/deactivate/",
        views.MemberDeactivateApi.as_view(), name="member-deactivate",
    ),
]
