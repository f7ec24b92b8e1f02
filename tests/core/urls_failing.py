"""The real URLs plus endpoints that fail unexpectedly, to test the 500 envelope."""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from config.urls import urlpatterns as real_urlpatterns


class FailingApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError("secret-internal-detail in /srv/groundwork/app.py")


def failing_plain_view(request):
    raise RuntimeError("secret-internal-detail in /srv/groundwork/app.py")


urlpatterns = [
    path("api/v1/failing/", FailingApi.as_view()),
    path("api/v1/failing-plain/", failing_plain_view),
    *real_urlpatterns,
]

handler404 = "core.views.handler404"
handler500 = "core.views.handler500"
