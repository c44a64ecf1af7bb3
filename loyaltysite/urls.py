from django.conf import settings
from django.conf.urls.static import static
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
    path("", include("accounts.urls")),  # before the console: /admin/two-factor/
    path("admin/", admin.site.urls),
    path("", include("members.portal_urls")),
    path("", include("rules.portal_urls")),
    path("", include("rewards.portal_urls")),
    path("", include("referrals.portal_urls")),
    path("", include("events.urls")),
    path("", include("tiers.portal_urls")),
]

# Uploaded media (reward images) in development; a web server serves MEDIA_ROOT in production.
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

# Error pages in the console's or the portal's frame (500.html stands alone: no database).
handler403 = "accounts.views.permission_denied"
handler404 = "accounts.views.page_not_found"
