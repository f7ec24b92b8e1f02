from django.urls import path

from importers import api

urlpatterns = [
    path("datasets/<int:dataset_id>/imports/", api.DatasetImportApi.as_view(), name="dataset-imports"),
    path("imports/<int:job_id>/", api.ImportJobDetailApi.as_view(), name="import-detail"),
    path("imports/<int:job_id>/errors/", api.ImportJobErrorsApi.as_view(), name="import-errors"),
    path("imports/<int:job_id>/cancel/", api.ImportJobCancelApi.as_view(), name="import-cancel"),
]
