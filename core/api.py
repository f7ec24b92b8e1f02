"""Authentication endpoints: token login and logout, and the caller's own account."""

from django.contrib.auth import authenticate, get_user_model
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import InvalidInput
from core.throttling import LoginAddressThrottle, LoginUsernameThrottle
from core.tokens import token_for_login, tokens_revoke


class TokenCreateApi(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [LoginAddressThrottle, LoginUsernameThrottle]

    class InputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=4096, trim_whitespace=False, write_only=True)

    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField()

    @extend_schema(
        request=InputSerializer, responses={200: OutputSerializer}, auth=[], operation_id="auth_token_create"
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request, **data.validated_data)
        if user is None:
            raise InvalidInput("Unable to log in with the username and password given.", code="invalid_credentials")
        return Response({"token": token_for_login(user=user).key})

    @extend_schema(request=None, responses={204: None}, operation_id="auth_token_delete")
    def delete(self, request: Request) -> Response:
        """Revoke the caller's token (log out every API client that uses it)."""
        if not request.user.is_authenticated:
            raise NotAuthenticated()
        tokens_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def get_throttles(self) -> list:
        # Only the password check is throttled; revoking a token is not guessing anything.
        return super().get_throttles() if self.request.method == "POST" else []


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["id", "username", "email", "first_name", "last_name", "is_staff"]
        read_only_fields = fields


class MeApi(APIView):
    @extend_schema(responses={200: UserSerializer})
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)
