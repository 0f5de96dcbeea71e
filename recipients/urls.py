from django.urls import path

from . import views

app_name = "recipients"
KIND = "<str:kind>"

urlpatterns = [
    path("lists/", views.list_index, name="list_index"),
    path("unsubscribe-lists/", views.list_index, {"kind": "unsubscribes"}, name="unsubscribe_index"),
    path(f"lists/{KIND}/new/", views.list_new, name="list_new"),
    path(f"lists/{KIND}/<int:pk>/", views.list_detail, name="list_detail"),
    path(f"lists/{KIND}/<int:pk>/action/", views.list_action, name="list_action"),
    path(f"lists/{KIND}/<int:pk>/download.<str:fmt>", views.list_download, name="list_download"),
    path(f"import/{KIND}/", views.import_upload, name="import_upload"),
    path(f"import/{KIND}/<str:token>/", views.import_map, name="import_map"),
    path("imports/<int:pk>/", views.import_job, name="import_job"),
    path("imports/<int:pk>/status/", views.import_job_status, name="import_job_status"),
    path("imports/<int:pk>/rejected.csv", views.import_job_rejects, name="import_job_rejects"),
]
