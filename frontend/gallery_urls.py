"""Pages of a dataset: the gallery and the image view with box drawing."""

urlpatterns: list = []
