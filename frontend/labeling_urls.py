"""Pages of the labeling workforce: teams, labeling jobs, the annotator workbench, the job dashboard."""

from django.urls import path

from frontend import labeling_views

urlpatterns = [
    path("projects/<int:project_id>/teams/", labeling_views.teams, name="teams"),
    path("projects/<int:project_id>/jobs/", labeling_views.jobs, name="jobs"),
    path("jobs/<int:job_id>/", labeling_views.job_dashboard, name="job"),
    path("jobs/<int:job_id>/work/", labeling_views.workbench, name="workbench"),
]
