from django.urls import path

from datasets import api

urlpatterns = [
    path("projects/<int:project_id>/datasets/", api.ProjectDatasetListApi.as_view(), name="project-dataset-list"),
    path("projects/<int:project_id>/distribute/", api.DistributeApi.as_view(), name="project-distribute"),
    path("datasets/<int:dataset_id>/", api.DatasetDetailApi.as_view(), name="dataset-detail"),
    path("datasets/<int:dataset_id>/entries/", api.EntryListApi.as_view(), name="entry-list"),
    path("datasets/<int:dataset_id>/entries/<int:entry_id>/", api.EntryDetailApi.as_view(), name="entry-detail"),
    path("datasets/<int:dataset_id>/manifest/", api.ManifestExportApi.as_view(), name="dataset-manifest"),
    path("datasets/<int:dataset_id>/uploads/", api.UploadApi.as_view(), name="dataset-uploads"),
    path("datasets/<int:dataset_id>/labels/", api.LabelListApi.as_view(), name="label-list"),
    path("datasets/<int:dataset_id>/labels/<path:name>/", api.LabelDetailApi.as_view(), name="label-detail"),
]
