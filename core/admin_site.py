"""The admin site: Django's, with its sign-in throttled like the token endpoint's (core.sign_in)."""

from django.contrib.admin import AdminSite
from django.http import HttpRequest, HttpResponse

from core.sign_in import ThrottledAdminAuthenticationForm, answer_throttled_sign_in


class GroundworkAdminSite(AdminSite):
    login_form = ThrottledAdminAuthenticationForm

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        return answer_throttled_sign_in(super().login(request, extra_context))
