from django.contrib.auth import views as auth_views
from django.urls import include, path

from frontend import views

app_name = "frontend"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="frontend/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The gallery and the image view (box drawing) live in their own module.
    path("", include("frontend.gallery_urls")),
    # Teams, labeling jobs, the annotator workbench and the job dashboard.
    path("", include("frontend.labeling_urls")),
]
