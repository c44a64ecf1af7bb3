from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from .api.docs import RedocDocsView, SwaggerDocsView
from .health import healthz

api_v1 = [
    path("", include("members.api.urls")),
    path("", include("ledger.api.urls")),
    path("", include("rules.api.urls")),
    path("", include("rewards.api.urls")),
    path("", include("referrals.api.urls")),
    path("", include("events.api.urls")),
    path("", include("tiers.api.urls")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SwaggerDocsView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", RedocDocsView.as_view(url_name="schema"), name="api-redoc"),
    path("admin/", admin.site.urls),
    path("", include("members.portal_urls")),
    path("", include("rules.portal_urls")),
    path("", include("rewards.portal_urls")),
    path("", include("referrals.portal_urls")),
    path("", include("events.urls")),
    path("", include("tiers.portal_urls")),
]
