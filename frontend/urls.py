from django.contrib.auth import views as auth_views
from django.urls import include, path

from frontend import dataset_views, project_views, views

app_name = "frontend"

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("login/", views.sign_in, name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("projects/new/", project_views.project_new, name="project_new"),
    path("projects/<int:project_id>/", project_views.project_detail, name="project"),
    path("projects/<int:project_id>/datasets/new/", dataset_views.dataset_new, name="dataset_new"),
    path("projects/<int:project_id>/distribute/", project_views.datasets_distribute, name="distribute"),
    path("projects/<int:project_id>/members/", project_views.member_add, name="member_add"),
    path("projects/<int:project_id>/members/<int:user_id>/", project_views.member_change, name="member_change"),
    path("projects/<int:project_id>/connections/", project_views.connection_create, name="connection_add"),
    path(
        "projects/<int:project_id>/connections/<int:connection_id>/delete/",
        project_views.connection_delete,
        name="connection_delete",
    ),
    path("datasets/<int:dataset_id>/delete/", project_views.dataset_delete, name="dataset_delete"),
    path("datasets/<int:dataset_id>/upload/", dataset_views.dataset_upload, name="dataset_upload"),
    path("imports/<int:import_id>/", dataset_views.import_detail, name="import"),
    path("imports/<int:import_id>/errors.csv", dataset_views.import_errors_csv, name="import_errors_csv"),
    # The gallery and the image view (box drawing) live in their own module.
    path("", include("frontend.gallery_urls")),
    # Teams, labeling jobs, the annotator workbench and the job dashboard.
    path("", include("frontend.labeling_urls")),
]
