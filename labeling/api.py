"""Labeling API: teams, jobs, the worker's queue, and the reviewer's results, answers and statistics.

Views authorize through ProjectScopedApi and call one service or selector each; team membership for work is the
queue service's rule."""

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from core.pagination import IdCursorPagination, paginated_response
from core.parsers import NDJSONRenderer, ndjson_download
from core.validation import validated
from datasets.image_urls import entry_image_url
from labeling import output, queue_sql, selectors
from labeling.models import LabelingJob, Selection, Task, TaskStatus, Team
from labeling.serializers import (
    AcceptInputSerializer,
    AssignmentOutputSerializer,
    JobAnswerSerializer,
    JobInputSerializer,
    JobOutputSerializer,
    SendBackInputSerializer,
    SubmitInputSerializer,
    TaskOutputSerializer,
    TeamInputSerializer,
    TeamOutputSerializer,
    TeamUpdateSerializer,
    WorkerStatsSerializer,
    WorkSerializer,
    assignment_data,
    work_data,
)
from labeling.services import jobs as job_services
from labeling.services import queue as queue_services
from labeling.services import review as review_services
from labeling.services import teams as team_services
from projects.api_base import ProjectScopedApi
from projects.permissions import Capability, member_access


class TeamListApi(ProjectScopedApi):
    capabilities = {"get": Capability.READ, "post": Capability.TEAMS_MANAGE}

    @extend_schema(responses={200: TeamOutputSerializer(many=True)})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = self.get_project(project_id)
        return paginated_response(self, selectors.teams_of_project(project_id=project.pk), TeamOutputSerializer)

    @extend_schema(request=TeamInputSerializer, responses={201: TeamOutputSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        project, _ = self.get_project(project_id)
        data = validated(TeamInputSerializer, request.data)
        team = team_services.team_create(project_id=project.pk, name=data["name"], members=data["members"])
        return Response(TeamOutputSerializer(team).data, status=status.HTTP_201_CREATED)


class TeamDetailApi(ProjectScopedApi):
    capabilities = {"get": Capability.READ, "patch": Capability.TEAMS_MANAGE, "delete": Capability.TEAMS_MANAGE}

    def _team(self, team_id: int) -> Team:
        team, _ = self.get_member_object(Team.objects.all(), team_id)
        return team

    @extend_schema(responses={200: TeamOutputSerializer})
    def get(self, request: Request, team_id: int) -> Response:
        return Response(TeamOutputSerializer(self._team(team_id)).data)

    @extend_schema(request=TeamUpdateSerializer, responses={200: TeamOutputSerializer})
    def patch(self, request: Request, team_id: int) -> Response:
        data = validated(TeamUpdateSerializer, request.data)
        team = team_services.team_update(team=self._team(team_id), name=data.get("name"), members=data.get("members"))
        return Response(TeamOutputSerializer(team).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, team_id: int) -> Response:
        team_services.team_delete(team=self._team(team_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class JobListApi(ProjectScopedApi):
    capabilities = {"get": Capability.READ, "post": Capability.JOBS_MANAGE}

    @extend_schema(responses={200: JobOutputSerializer(many=True)})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = self.get_project(project_id)
        return paginated_response(self, selectors.jobs_of_project(project_id=project.pk), JobOutputSerializer)

    @extend_schema(request=JobInputSerializer, responses={201: JobOutputSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        project, _ = self.get_project(project_id)
        data = validated(JobInputSerializer, request.data)
        selection = (
            Selection.WITH_LABELS
            if data.get("with_labels")
            else Selection.UNLABELED
            if data["only_unlabeled"]
            else Selection.ALL
        )
        job = job_services.job_create(
            project_id=project.pk,
            user=request.user,
            data=job_services.JobInput(
                name=data["name"],
                dataset_id=data["dataset"],
                task_type=data["task_type"],
                labels=data["labels"],
                team_id=data["team"],
                workers_per_image=data["workers_per_image"],
                task_time_limit_s=data["task_time_limit_s"],
                lifetime_s=data["lifetime_s"],
                selection=selection,
                selection_labels=data.get("with_labels", []),
                instructions=data["instructions"],
                label_attribute_name=data.get("label_attribute_name"),
            ),
        )
        job = selectors.jobs_with_progress().get(pk=job.pk)
        return Response(JobOutputSerializer(job).data, status=status.HTTP_201_CREATED)


class JobDetailApi(ProjectScopedApi):
    capabilities = {"get": Capability.READ}

    @extend_schema(responses={200: JobOutputSerializer})
    def get(self, request: Request, job_id: int) -> Response:
        job, _ = self.get_member_object(selectors.jobs_with_progress(), job_id)
        return Response(JobOutputSerializer(job).data)


class JobNextApi(ProjectScopedApi):
    capabilities = {"post": Capability.JOBS_WORK}

    @extend_schema(
        request=None,
        responses={200: WorkSerializer, 204: OpenApiResponse(description="Nothing is left for this worker")},
    )
    def post(self, request: Request, job_id: int) -> Response:
        # The queue's hot path: the job, the caller's role and their place in the queue in one statement.
        now = timezone.now()
        job, role, state = queue_sql.job_for_worker(job_id=job_id, user_id=request.user.pk, now=now)
        member_access(
            project_id=job and job.project_id, role=role, capability=self.capability, label="Labeling job", pk=job_id
        )
        assignment = queue_services.assignment_claim_next(job=job, worker=request.user, now=now, state=state)
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        assignment.job = job
        image = assignment.task.image
        assignment.work_image = {
            "id": image.pk,
            "image_url": entry_image_url(image, project_id=job.project_id),
            "width": image.width,
            "height": image.height,
            "orientation": image.orientation,
            "source_ref": image.source_ref,
        }
        return Response(work_data(assignment))


class AssignmentScopedApi(ProjectScopedApi):
    capabilities = {"post": Capability.JOBS_WORK}

    def access_check(self, assignment_id: int) -> queue_services.AccessCheck:
        """404 outside the project, 403 without the right to work, run by the service on the row it locks
        (whose lease it is, the service checks)."""

        def check(project_id: int | None, role: str | None) -> None:
            member_access(
                project_id=project_id, role=role, capability=self.capability, label="Assignment", pk=assignment_id
            )

        return check


class AssignmentReleaseApi(AssignmentScopedApi):
    @extend_schema(request=None, responses={200: AssignmentOutputSerializer})
    def post(self, request: Request, assignment_id: int) -> Response:
        assignment = queue_services.assignment_release(
            assignment_id=assignment_id, worker=request.user, check_access=self.access_check(assignment_id)
        )
        return Response(assignment_data(assignment))


class AssignmentSubmitApi(AssignmentScopedApi):
    @extend_schema(request=SubmitInputSerializer, responses={200: AssignmentOutputSerializer})
    def post(self, request: Request, assignment_id: int) -> Response:
        # SubmitInputSerializer documents the body; labeling.answers checks it whole (shape, types, the job's
        # labels, the image's bounds), so DRF's field-by-field pass is left out of the queue's hot path.
        assignment = queue_services.assignment_submit(
            assignment_id=assignment_id,
            worker=request.user,
            answer=request.data,
            check_access=self.access_check(assignment_id),
        )
        return Response(assignment_data(assignment))


class ReviewPagination(IdCursorPagination):
    page_size = 50
    max_page_size = 100


class ReviewFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[TaskStatus.REVIEW, TaskStatus.COMPLETE, TaskStatus.ACCEPTED], default=TaskStatus.REVIEW
    )


class AnswerFilterSerializer(serializers.Serializer):
    worker = serializers.IntegerField(required=False, min_value=1)


class JobReviewScopedApi(ProjectScopedApi):
    """Reading a job's results and answers: reviewers and managers (annotators 403, outsiders 404)."""

    capabilities = {"get": Capability.JOBS_REVIEW}

    def get_job(self, job_id: int) -> LabelingJob:
        job, _ = self.get_member_object(LabelingJob.objects.select_related("dataset"), job_id)
        return job


class JobReviewApi(JobReviewScopedApi):
    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=["review", "complete", "accepted"], description="Default: review")
        ],
        responses={200: TaskOutputSerializer(many=True)},
    )
    def get(self, request: Request, job_id: int) -> Response:
        job = self.get_job(job_id)
        wanted = validated(ReviewFilterSerializer, request.query_params)["status"]
        tasks = selectors.review_tasks(job_id=job.pk, status=wanted)
        return paginated_response(self, tasks, TaskOutputSerializer, paginator_class=ReviewPagination)


class JobOutputApi(JobReviewScopedApi):
    renderer_classes = [JSONRenderer, NDJSONRenderer]

    @extend_schema(responses={(200, "application/x-ndjson"): str})
    def get(self, request: Request, job_id: int) -> StreamingHttpResponse:
        job = self.get_job(job_id)
        return ndjson_download(output.iter_output_chunks(job=job), filename=f"{job.name}.output.manifest")


class JobAnswersApi(JobReviewScopedApi):
    @extend_schema(
        parameters=[OpenApiParameter("worker", int, description="Only this worker's answers (a user id)")],
        responses={200: JobAnswerSerializer(many=True)},
    )
    def get(self, request: Request, job_id: int) -> Response:
        job = self.get_job(job_id)
        worker = validated(AnswerFilterSerializer, request.query_params).get("worker")
        answers = selectors.job_answers(job_id=job.pk, worker_id=worker)
        return paginated_response(self, answers, JobAnswerSerializer, paginator_class=IdCursorPagination)


class JobWorkersApi(JobReviewScopedApi):
    @extend_schema(responses={200: WorkerStatsSerializer(many=True)})
    def get(self, request: Request, job_id: int) -> Response:
        stats = selectors.job_worker_stats(job=self.get_job(job_id))
        return Response(WorkerStatsSerializer(stats, many=True).data)


class TaskReviewScopedApi(ProjectScopedApi):
    capabilities = {"post": Capability.JOBS_REVIEW}

    def check_task(self, task_id: int) -> None:
        self.get_member_object(Task.objects.all(), task_id, project_path="job__project")

    def task_response(self, task_id: int) -> Response:
        return Response(TaskOutputSerializer(selectors.review_task(task_id=task_id)).data)


class TaskAcceptApi(TaskReviewScopedApi):
    @extend_schema(request=AcceptInputSerializer, responses={200: TaskOutputSerializer})
    def post(self, request: Request, task_id: int) -> Response:
        self.check_task(task_id)
        data = validated(AcceptInputSerializer, request.data)
        answer = {key: value for key, value in data.items() if value is not None} or None
        review_services.task_accept(task_id=task_id, user=request.user, answer=answer)
        return self.task_response(task_id)


class TaskSendBackApi(TaskReviewScopedApi):
    @extend_schema(request=SendBackInputSerializer, responses={200: TaskOutputSerializer})
    def post(self, request: Request, task_id: int) -> Response:
        self.check_task(task_id)
        reason = validated(SendBackInputSerializer, request.data)["reason"]
        review_services.task_send_back(task_id=task_id, user=request.user, reason=reason)
        return self.task_response(task_id)
