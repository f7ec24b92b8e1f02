from django.urls import path

from projects import api

urlpatterns = [
    path("projects/", api.ProjectListCreateApi.as_view(), name="project-list"),
    path("projects/<int:project_id>/", api.ProjectDetailApi.as_view(), name="project-detail"),
    path("projects/<int:project_id>/members/", api.MemberListCreateApi.as_view(), name="member-list"),
    path("projects/<int:project_id>/members/<int:user_id>/", api.MemberDetailApi.as_view(), name="member-detail"),
]

urlpatterns += [
    path("projects/<int:project_id>/connections/", api.ConnectionListCreateApi.as_view(), name="connection-list"),
    path(
        "projects/<int:project_id>/connections/<int:connection_id>/",
        api.ConnectionDetailApi.as_view(),
        name="connection-detail",
    ),
]
