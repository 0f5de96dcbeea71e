from django.urls import path

from . import views

app_name = "providers"
urlpatterns = [
    path("generic/", views.generic_list, name="list"),
    path("generic/new/", views.generic_create, name="create"),
    path("generic/<int:pk>/", views.generic_detail, name="detail"),
    path("generic/<int:pk>/edit/", views.generic_edit, name="edit"),
    path("generic/<int:pk>/test/", views.test_send, name="test_send"),
    path("generic/<int:pk>/prices/", views.prices_edit, name="prices"),
    path("generic/<int:pk>/templates/", views.template_list, name="templates"),
    path("generic/<int:pk>/templates/new/", views.template_edit, name="template_create"),
    path("generic/<int:pk>/templates/<int:template_pk>/", views.template_edit, name="template_edit"),
    path("generic/<int:pk>/templates/<int:template_pk>/test/", views.template_test, name="template_test"),
    path("generic/<int:pk>/inbound/", views.inbound_list, name="inbound"),
]
