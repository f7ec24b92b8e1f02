"""The sign-in pages, ours and the admin's, under the token endpoint's login throttles (core.throttling).

The throttle runs in the form's `clean`, before the password is checked, so that a refused attempt costs no
password hash. A refused form carries a non-field error with code `throttled`; `answer_throttled_sign_in`
turns the page that shows it into a 429 with `Retry-After`, the form re-rendered with the username kept.
"""

from collections.abc import Callable
from functools import wraps

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse

from core.throttling import sign_in_attempt


class ThrottledSignInMixin:
    """For an AuthenticationForm: every submitted form counts as one attempt per address and per username."""

    throttled = False
    retry_after: int | None = None

    def clean(self) -> dict:
        retry_after = sign_in_attempt(self.request)
        if retry_after is not None:
            self.throttled, self.retry_after = True, retry_after
            when = f"in {retry_after} second{'s' if retry_after != 1 else ''}" if retry_after else "later"
            raise forms.ValidationError(f"Too many sign-in attempts. Try again {when}.", code="throttled")
        return super().clean()


class ThrottledAuthenticationForm(ThrottledSignInMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(ThrottledSignInMixin, AdminAuthenticationForm):
    pass


def answer_throttled_sign_in(response: HttpResponse) -> HttpResponse:
    """The login view's answer, made a 429 when the form it shows was throttled (LoginView re-renders an invalid
    form as a TemplateResponse, whose context is still there to look at)."""
    form = (getattr(response, "context_data", None) or {}).get("form")
    if getattr(form, "throttled", False):
        response.status_code = 429
        if form.retry_after:
            response["Retry-After"] = str(form.retry_after)
    return response


def throttled_sign_in(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A login view whose throttled sign-ins answer 429 (its form must be a ThrottledSignInMixin)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        return answer_throttled_sign_in(view(request, *args, **kwargs))

    return wrapped
