from django.urls import path

from . import views

app_name = "webhooks"
urlpatterns = [
    path("", views.endpoint_list, name="list"),
    path("new/", views.endpoint_create, name="create"),
    path("<int:pk>/", views.endpoint_detail, name="detail"),
    path("<int:pk>/edit/", views.endpoint_edit, name="edit"),
    path("<int:pk>/rotate/", views.secret_rotate, name="rotate"),
    path("<int:pk>/test/", views.test_send, name="test"),
    path("<int:pk>/resume/", views.endpoint_resume, name="resume"),
    path("<int:pk>/log/<int:attempt_pk>/", views.attempt_detail, name="attempt"),
    path("<int:pk>/events/<int:message_pk>/redeliver/", views.message_redeliver, name="redeliver"),
]
