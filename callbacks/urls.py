from django.urls import path, re_path

from . import views

app_name = "callbacks"

# Providers paste these URLs by hand: a trailing slash is forgiven.
PREFIX = r"^(?P<token>[^/]{1,128})"

urlpatterns = [
    path("settings/", views.settings_page, name="settings"),
    path("broadcasts/<int:pk>/timeline.json", views.broadcast_timeline_json, name="broadcast_timeline"),
    re_path(PREFIX + r"/dlr/?$", views.receive, {"endpoint": "dlr"}, name="dlr"),
    re_path(PREFIX + r"/dlr-batch/?$", views.receive, {"endpoint": "dlr_batch"}, name="dlr_batch"),
    re_path(PREFIX + r"/click/?$", views.receive, {"endpoint": "click"}, name="click"),
    re_path(PREFIX + r"/ping/?$", views.ping, name="ping"),
]
