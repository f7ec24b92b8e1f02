"""Server-rendered pages (session login). The pages read through the same selectors as the API."""

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.templatetags.static import static

from core.sign_in import ThrottledAuthenticationForm, throttled_sign_in
from projects.selectors import projects_visible_to

# Django's login view, under the token endpoint's login throttles (a refused attempt is a 429 of this page).
sign_in = throttled_sign_in(
    LoginView.as_view(template_name="frontend/login.html", authentication_form=ThrottledAuthenticationForm)
)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    projects = projects_visible_to(user=request.user)[:200]
    return render(request, "frontend/home.html", {"projects": projects})


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on pages that name no icon (the admin's): ours, instead of a 404."""
    return HttpResponseRedirect(static("frontend/favicon.svg"))
