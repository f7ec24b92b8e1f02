import pytest
from django.apps import apps
from django.contrib import admin

OUR_APPS = {"core", "projects", "datasets", "importers", "labeling", "frontend"}


def test_every_model_of_ours_is_in_the_admin():
    ours = [model for model in apps.get_models() if model._meta.app_label in OUR_APPS]
    missing = [model.__name__ for model in ours if model not in admin.site._registry]
    assert ours, "no models found"
    assert missing == []


@pytest.mark.django_db
def test_admin_pages_of_our_models_render(admin_client):
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in OUR_APPS:
            continue
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert admin_client.get(url).status_code == 200, url
        can_add = model_admin.has_add_permission(admin_client.get(url).wsgi_request)
        assert admin_client.get(url + "add/").status_code == (200 if can_add else 403), url
