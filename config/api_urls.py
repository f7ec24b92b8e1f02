"""The REST API, version 1: every app's endpoints under /api/v1/."""

from django.urls import include, path

from core import api as core_api

urlpatterns = [
    path("auth/token/", core_api.TokenCreateApi.as_view(), name="auth-token"),
    path("me/", core_api.MeApi.as_view(), name="me"),
    # Labeling first: Django tries the patterns in order, and the annotators' queue is the busiest path.
    path("", include("labeling.urls")),
    path("", include("projects.urls")),
    path("", include("datasets.urls")),
    path("", include("importers.urls")),
]
