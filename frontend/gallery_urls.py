"""Pages of a dataset: the gallery and the image view with box drawing."""

from django.urls import path

from frontend import gallery_views

urlpatterns = [
    path("datasets/<int:dataset_id>/", gallery_views.dataset_gallery, name="dataset"),
    path("datasets/<int:dataset_id>/entries/<int:entry_id>/", gallery_views.entry_view, name="entry"),
    path(
        "datasets/<int:dataset_id>/selection/labels/",
        gallery_views.SelectionLabelApi.as_view(),
        name="dataset-selection-labels",
    ),
]
