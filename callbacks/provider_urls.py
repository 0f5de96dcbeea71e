"""Generic providers' callback URLs (under /providers/cb/, where providers were told to post)."""

from django.urls import path

from . import provider_views

app_name = "provider_callbacks"
urlpatterns = [
    path("<str:token>/dlr/", provider_views.dlr_receive, name="dlr"),
    path("<str:token>/inbound/", provider_views.inbound_receive, name="inbound"),
]
