"""Labeling API: teams, jobs, and the worker's queue. Views authorize through ProjectScopedApi and call one
service or selector each; team membership for work is the queue service's rule."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from core.pagination import paginated_response
from core.validation import validated
from datasets.image_urls import entry_image_url
from labeling import selectors
from labeling.models import Assignment, LabelingJob, Selection, Team
from labeling.serializers import (
    AssignmentOutputSerializer,
    JobInputSerializer,
    JobOutputSerializer,
    SubmitInputSerializer,
    TeamInputSerializer,
    TeamOutputSerializer,
    TeamUpdateSerializer,
    WorkSerializer,
)
from labeling.services import jobs as job_services
from labeling.services import queue as queue_services
from labeling.services import teams as team_services
from projects.api_base import ProjectScopedApi
from projects.permissions import Capability


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
        job, _ = self.get_member_object(LabelingJob.objects.all(), job_id)
        assignment = queue_services.assignment_claim_next(job=job, worker=request.user)
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        assignment.job = job
        image = assignment.task.image
        assignment.work_image = {
            "id": image.pk,
            "image_url": entry_image_url(image),
            "width": image.width,
            "height": image.height,
        }
        return Response(WorkSerializer(assignment).data)


class AssignmentScopedApi(ProjectScopedApi):
    capabilities = {"post": Capability.JOBS_WORK}

    def check_assignment(self, assignment_id: int) -> None:
        """404 outside the project, 403 without the right to work (whose lease it is, the service checks)."""
        self.get_member_object(Assignment.objects.all(), assignment_id, project_path="job__project")


class AssignmentReleaseApi(AssignmentScopedApi):
    @extend_schema(request=None, responses={200: AssignmentOutputSerializer})
    def post(self, request: Request, assignment_id: int) -> Response:
        self.check_assignment(assignment_id)
        assignment = queue_services.assignment_release(assignment_id=assignment_id, worker=request.user)
        return Response(AssignmentOutputSerializer(assignment).data)


class AssignmentSubmitApi(AssignmentScopedApi):
    @extend_schema(request=SubmitInputSerializer, responses={200: AssignmentOutputSerializer})
    def post(self, request: Request, assignment_id: int) -> Response:
        self.check_assignment(assignment_id)
        answer = validated(SubmitInputSerializer, request.data)
        assignment = queue_services.assignment_submit(assignment_id=assignment_id, worker=request.user, answer=answer)
        return Response(AssignmentOutputSerializer(assignment).data)
