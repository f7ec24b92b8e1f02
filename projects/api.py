"""Projects and members API: each view authorizes through projects.permissions and calls one service."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.pagination import paginated_response
from core.validation import validated
from datasets.selectors import dataset_readable_by
from importers import services as import_services
from projects import selectors, services
from projects.api_base import ProjectScopedApi
from projects.models import Role
from projects.permissions import Capability
from projects.serializers import (
    ConnectionCreateSerializer,
    ConnectionOutputSerializer,
    MembershipCreateSerializer,
    MembershipOutputSerializer,
    MembershipUpdateSerializer,
    ProjectCreatedSerializer,
    ProjectCreateSerializer,
    ProjectOutputSerializer,
    ProjectUpdateSerializer,
)


class ProjectListCreateApi(APIView):
    @extend_schema(responses={200: ProjectOutputSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return paginated_response(self, selectors.projects_visible_to(user=request.user), ProjectOutputSerializer)

    @extend_schema(request=ProjectCreateSerializer, responses={201: ProjectCreatedSerializer})
    def post(self, request: Request) -> Response:
        data = dict(validated(ProjectCreateSerializer, request.data))
        training = data.pop("training_dataset", None)
        if training is None:
            project, dataset, job = services.project_create(user=request.user, **data), None, None
        else:
            source = training["source"]
            source_dataset = (
                dataset_readable_by(user=request.user, dataset_id=source["dataset"])
                if source["kind"] == "dataset"
                else None
            )
            project, dataset, job = import_services.project_create_with_training_dataset(
                user=request.user, training_dataset=training, source_dataset=source_dataset, **data
            )
        project.my_role, project.training_dataset, project.import_job = Role.OWNER, dataset, job
        return Response(ProjectCreatedSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailApi(ProjectScopedApi):
    capabilities = {"get": Capability.READ, "patch": Capability.PROJECT_EDIT, "delete": Capability.PROJECT_DELETE}

    @extend_schema(responses={200: ProjectOutputSerializer})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = self.get_project(project_id)
        return Response(ProjectOutputSerializer(project).data)

    @extend_schema(request=ProjectUpdateSerializer, responses={200: ProjectOutputSerializer})
    def patch(self, request: Request, project_id: int) -> Response:
        project, _ = self.get_project(project_id)
        project = services.project_update(project=project, **validated(ProjectUpdateSerializer, request.data))
        return Response(ProjectOutputSerializer(project).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: int) -> Response:
        project, _ = self.get_project(project_id)
        services.project_delete(project=project)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberListCreateApi(ProjectScopedApi):
    capabilities = {"get": Capability.READ, "post": Capability.MEMBERS_MANAGE}

    @extend_schema(responses={200: MembershipOutputSerializer(many=True)})
    def get(self, request: Request, project_id: int) -> Response:
        self.get_project(project_id)
        return paginated_response(
            self, selectors.project_memberships(project_id=project_id), MembershipOutputSerializer
        )

    @extend_schema(request=MembershipCreateSerializer, responses={201: MembershipOutputSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        _, access = self.get_project(project_id)
        membership = services.membership_add(
            project_id=project_id,
            actor=request.user,
            actor_role=access.role,
            **validated(MembershipCreateSerializer, request.data),
        )
        return Response(MembershipOutputSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetailApi(ProjectScopedApi):
    # Changing or removing a membership depends on both roles (and anyone may leave): the service asks
    # projects.permissions.check_membership_change once the target's role is known.
    capabilities = {"get": Capability.READ, "patch": Capability.READ, "delete": Capability.READ}

    @extend_schema(responses={200: MembershipOutputSerializer})
    def get(self, request: Request, project_id: int, user_id: int) -> Response:
        self.get_project(project_id)
        membership = selectors.project_membership(project_id=project_id, user_id=user_id)
        return Response(MembershipOutputSerializer(membership).data)

    @extend_schema(request=MembershipUpdateSerializer, responses={200: MembershipOutputSerializer})
    def patch(self, request: Request, project_id: int, user_id: int) -> Response:
        _, access = self.get_project(project_id)
        membership = services.membership_change_role(
            project_id=project_id,
            actor=request.user,
            actor_role=access.role,
            user_id=user_id,
            **validated(MembershipUpdateSerializer, request.data),
        )
        return Response(MembershipOutputSerializer(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: int, user_id: int) -> Response:
        _, access = self.get_project(project_id)
        services.membership_remove(project_id=project_id, actor=request.user, actor_role=access.role, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConnectionListCreateApi(ProjectScopedApi):
    # Managers see the project's connections (to import through them); only owners register or delete them.
    capabilities = {"get": Capability.DATASETS_MANAGE, "post": Capability.CONNECTIONS_MANAGE}

    @extend_schema(responses={200: ConnectionOutputSerializer(many=True)})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = self.get_project(project_id)
        return paginated_response(
            self, selectors.project_connections(project_id=project.pk), ConnectionOutputSerializer
        )

    @extend_schema(request=ConnectionCreateSerializer, responses={201: ConnectionOutputSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        project, _ = self.get_project(project_id)
        connection = services.connection_create(
            project_id=project.pk, user=request.user, **validated(ConnectionCreateSerializer, request.data)
        )
        return Response(ConnectionOutputSerializer(connection).data, status=status.HTTP_201_CREATED)


class ConnectionDetailApi(ProjectScopedApi):
    capabilities = {"delete": Capability.CONNECTIONS_MANAGE}

    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: int, connection_id: int) -> Response:
        project, _ = self.get_project(project_id)
        services.connection_delete(project_id=project.pk, connection_id=connection_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
