from django.urls import path

from labeling import api

urlpatterns = [
    path("projects/<int:project_id>/teams/", api.TeamListApi.as_view(), name="project-team-list"),
    path("teams/<int:team_id>/", api.TeamDetailApi.as_view(), name="team-detail"),
    path("projects/<int:project_id>/jobs/", api.JobListApi.as_view(), name="project-job-list"),
    path("jobs/<int:job_id>/", api.JobDetailApi.as_view(), name="job-detail"),
    path("jobs/<int:job_id>/next/", api.JobNextApi.as_view(), name="job-next"),
    path("assignments/<int:assignment_id>/submit/", api.AssignmentSubmitApi.as_view(), name="assignment-submit"),
    path("assignments/<int:assignment_id>/release/", api.AssignmentReleaseApi.as_view(), name="assignment-release"),
    path("jobs/<int:job_id>/review/", api.JobReviewApi.as_view(), name="job-review"),
    path("jobs/<int:job_id>/output/", api.JobOutputApi.as_view(), name="job-output"),
    path("jobs/<int:job_id>/answers/", api.JobAnswersApi.as_view(), name="job-answers"),
    path("jobs/<int:job_id>/workers/", api.JobWorkersApi.as_view(), name="job-workers"),
    path("tasks/<int:task_id>/accept/", api.TaskAcceptApi.as_view(), name="task-accept"),
    path("tasks/<int:task_id>/send-back/", api.TaskSendBackApi.as_view(), name="task-send-back"),
]
