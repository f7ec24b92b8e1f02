"""The dataset gallery and the image view: page shells (the scripts talk to the REST API), plus the one
JSON action the gallery needs that the entry API cannot do: a label for every entry matching a filter."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import NotFound
from core.validation import validated
from datasets import selectors
from datasets.api import DatasetScopedApi
from datasets.serializers import EntryFilterSerializer, EntryOutputSerializer
from datasets.services.selection_labels import MAX_PICKED_ENTRIES, entries_label_set
from frontend.access import dataset_for
from projects.permissions import Capability

FILTER_PARAMS = ("contains_labels", "labeled", "has_errors", "source_ref_contains")
MAX_LABELS_SHOWN = 1000


def _filters(request: HttpRequest) -> tuple[dict, dict]:
    """The entry filter of the page's query string: (selector keywords, the query parameters kept)."""
    given = {key: request.GET[key] for key in FILTER_PARAMS if request.GET.get(key, "").strip()}
    serializer = EntryFilterSerializer(data=given)
    if not serializer.is_valid():
        return {}, {}
    return serializer.validated_data, given


@login_required
def dataset_gallery(request: HttpRequest, dataset_id: int) -> HttpResponse:
    dataset, access = dataset_for(request, dataset_id, Capability.READ)
    filters, query = _filters(request)
    labels = list(selectors.dataset_labels_with_counts(dataset_id=dataset.pk)[:MAX_LABELS_SHOWN])
    config = {
        "datasetId": dataset.pk,
        "query": query,
        "canEdit": access.allows(Capability.ENTRIES_EDIT),
        "canManageLabels": access.allows(Capability.LABELS_MANAGE),
        "entryUrl": reverse("frontend:entry", args=[dataset.pk, 0]),
        "selectionUrl": reverse("frontend:dataset-selection-labels", args=[dataset.pk]),
        "maxPicked": MAX_PICKED_ENTRIES,
    }
    context = {
        "dataset": dataset,
        "role": access.role,
        "labels": labels,
        "query": query,
        "filtered": bool(query),
        "config": config,
        "can_edit": config["canEdit"],
        "can_manage_labels": config["canManageLabels"],
        # An exact count of a filtered view is one indexed count; the unfiltered total is a stored stat.
        "matching": selectors.dataset_entries(dataset_id=dataset.pk, **filters).count()
        if query
        else dataset.total_entries,
    }
    return render(request, "frontend/gallery.html", context)


@login_required
def entry_view(request: HttpRequest, dataset_id: int, entry_id: int) -> HttpResponse:
    dataset, access = dataset_for(request, dataset_id, Capability.READ)
    try:
        entry = selectors.entry_get(dataset_id=dataset.pk, entry_id=entry_id)
    except NotFound as error:
        raise Http404(error.message) from error
    filters, query = _filters(request)
    matching = selectors.dataset_entries(dataset_id=dataset.pk, **filters).order_by()
    next_id = matching.filter(pk__gt=entry.pk).order_by("pk").values_list("pk", flat=True).first()
    previous_id = matching.filter(pk__lt=entry.pk).order_by("-pk").values_list("pk", flat=True).first()
    label_names = list(
        selectors.dataset_labels_with_counts(dataset_id=dataset.pk).values_list("name", flat=True)[:MAX_LABELS_SHOWN]
    )
    query_string = request.GET.urlencode() if query else ""

    def link(pk: int | None) -> str | None:
        if pk is None:
            return None
        url = reverse("frontend:entry", args=[dataset.pk, pk])
        return f"{url}?{query_string}" if query_string else url

    gallery_url = reverse("frontend:dataset", args=[dataset.pk])
    config = {
        "datasetId": dataset.pk,
        "entry": EntryOutputSerializer(entry, context={"project_id": dataset.project_id}).data,
        "labelNames": label_names,
        "canEdit": access.allows(Capability.ENTRIES_EDIT),
        "nextUrl": link(next_id),
        "previousUrl": link(previous_id),
    }
    context = {
        "dataset": dataset,
        "entry": entry,
        "config": config,
        "can_edit": config["canEdit"],
        "next_url": config["nextUrl"],
        "previous_url": config["previousUrl"],
        "gallery_url": f"{gallery_url}?{query_string}" if query_string else gallery_url,
    }
    return render(request, "frontend/entry.html", context)


class SelectionLabelInputSerializer(serializers.Serializer):
    label = serializers.CharField(max_length=1000)
    action = serializers.ChoiceField(choices=["add", "remove"])
    entry_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=MAX_PICKED_ENTRIES
    )
    all_matching = serializers.BooleanField(default=False, help_text="Every entry matching `filter`")
    filter = EntryFilterSerializer(required=False)

    def validate(self, data: dict) -> dict:
        if not data["all_matching"] and not data.get("entry_ids"):
            raise serializers.ValidationError({"entry_ids": "Pick entries, or set all_matching."}, code="required")
        return data


class SelectionLabelOutputSerializer(serializers.Serializer):
    label = serializers.CharField()
    action = serializers.CharField()
    changed = serializers.IntegerField(help_text="Entries that gained (or lost) the label")


class SelectionLabelApi(DatasetScopedApi):
    """Add or remove an image-level label on picked entries or on every entry matching a filter."""

    capabilities = {"post": Capability.ENTRIES_EDIT}

    @extend_schema(
        operation_id="dataset_selection_labels",
        request=SelectionLabelInputSerializer,
        responses={200: SelectionLabelOutputSerializer},
    )
    def post(self, request: Request, dataset_id: int) -> Response:
        dataset = self.get_dataset(dataset_id)
        data = validated(SelectionLabelInputSerializer, request.data)
        result = entries_label_set(
            dataset_id=dataset.pk,
            label=data["label"],
            add=data["action"] == "add",
            user=request.user,
            entry_ids=None if data["all_matching"] else data["entry_ids"],
            filters=data.get("filter") or {},
        )
        return Response({"label": result.label, "action": data["action"], "changed": result.changed})
