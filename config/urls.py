from django.contrib import admin
from django.urls import include, path

from callbacks import views as callback_views
from campaigns import api as api_v1
from campaigns import views as campaign_views
from config import two_factor, views
from config.login import SignInView

# One way in, with throttling and the second factor: the admin's own sign-in page sends people to it.
admin.site.login = views.admin_login

urlpatterns = [
    path("", campaign_views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/two-factor/", two_factor.two_factor, name="two_factor"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", api_v1.urls()),
    path("", include("messaging.urls")),
    path("", include("campaigns.urls")),
    path("", include("recipients.urls")),
    path("callbacks/", include("callbacks.urls")),
    # Recipients' own links in messages Textcast sends itself (campaigns.tracking): short on purpose.
    path("r/<str:token>", callback_views.link_redirect, name="link_redirect"),
    path("u/<str:token>", callback_views.optout, name="optout"),
    path("providers/cb/", include("callbacks.provider_urls")),
    path("providers/", include("messaging.providers.urls")),
    path("webhooks/", include("messaging.webhooks.urls")),
]
