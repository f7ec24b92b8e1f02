"""Server-rendered pages (session login). The pages read through the same selectors as the API."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from projects.selectors import projects_visible_to


@login_required
def home(request: HttpRequest) -> HttpResponse:
    projects = projects_visible_to(user=request.user)[:200]
    return render(request, "frontend/home.html", {"projects": projects})
