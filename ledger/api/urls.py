from django.urls import path

from . import views

urlpatterns = [
    path(
        "programs/<str:program>/members/<str:member>/earn/",
        views.MemberEarnApi.as_view(), name="member-earn",
    ),
    path(
        "programs/<str:program>/members/<str:member>/adjust/",
        views.MemberAdjustApi.as_view(), name="member-adjust",
    ),
    path(
        "programs/<str:program>/members/<str:member>/transactions/",
        views.MemberTransactionsApi.as_view(), name="member-transactions",
    ),
]
