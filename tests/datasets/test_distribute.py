import pytest

from datasets.models import BoundingBox, Image, ImageLabel
from projects import services as project_services
from tests.fixtures.datasets import Box, Draft, assert_counts_true, make_dataset

pytestmark = pytest.mark.django_db


def distribute(client, project, training, test, **extra):
    return client.post(
        f"/api/v1/projects/{project.id}/distribute/",
        {"training_dataset": training.id, "test_dataset": test.id, **extra},
        format="json",
    )


def labelled_drafts(count=100, labels=("cat", "dog", "bird", "fish")):
    drafts = []
    for i in range(count):
        label = labels[i % len(labels)]
        if i % 3 == 0:
            drafts.append(Draft(f"s3://b/{i:04}.jpg", boxes=[Box(label)]))
        else:
            drafts.append(Draft(f"s3://b/{i:04}.jpg", labels=[label]))
    drafts.append(Draft("s3://b/rare-1.jpg", labels=["rare"]))
    drafts.append(Draft("s3://b/rare-2.jpg", labels=["rare"]))
    drafts.append(Draft("s3://b/unlabeled.jpg"))
    return drafts


def labels_on(dataset):
    links = set(ImageLabel.objects.filter(image__dataset=dataset).values_list("label__name", flat=True))
    boxes = set(BoundingBox.objects.filter(image__dataset=dataset).values_list("label__name", flat=True))
    return links | boxes


def test_moves_a_fifth_balanced_per_label(project_with_roles):
    project = project_with_roles.project
    training = make_dataset(project, "train", drafts=labelled_drafts())
    test = make_dataset(project, "test", type="test")

    response = distribute(project_with_roles.client("manager"), project, training, test, seed=42)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert 18 <= body["moved"] <= 24
    assert body["test_dataset"]["stats"]["total_entries"] == body["moved"]
    assert body["training_dataset"]["stats"]["total_entries"] == 103 - body["moved"]
    assert labels_on(training) == labels_on(test) == {"cat", "dog", "bird", "fish", "rare"}
    # Moved links and boxes point at the test dataset's own labels.
    assert not ImageLabel.objects.filter(image__dataset=test).exclude(label__dataset=test).exists()
    assert not BoundingBox.objects.filter(image__dataset=test).exclude(label__dataset=test).exists()
    assert_counts_true(training)
    assert_counts_true(test)


def test_same_seed_same_split(project_with_roles):
    project = project_with_roles.project
    client = project_with_roles.client("owner")
    chosen = []
    for run in range(2):
        training = make_dataset(project, f"train{run}", drafts=labelled_drafts())
        test = make_dataset(project, f"test{run}", type="test")
        distribute(client, project, training, test, seed=9)
        chosen.append(sorted(Image.objects.filter(dataset=test).values_list("source_ref", flat=True)))
    assert chosen[0] == chosen[1]


def test_test_dataset_must_be_empty(project_with_roles):
    project = project_with_roles.project
    training = make_dataset(project, "train", drafts=labelled_drafts())
    test = make_dataset(project, "test", type="test", drafts=[Draft("s3://b/already.jpg")])

    response = distribute(project_with_roles.client("owner"), project, training, test)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "test_dataset_not_empty"
    assert Image.objects.filter(dataset=training).count() == 103


def test_too_few_labeled_images_is_refused_with_the_reference_code(project_with_roles):
    project = project_with_roles.project
    training = make_dataset(project, "train", drafts=[Draft("s3://b/1.jpg", labels=["a"]), Draft("s3://b/2.jpg")])
    test = make_dataset(project, "test", type="test")

    response = distribute(project_with_roles.client("owner"), project, training, test)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE"
    assert not Image.objects.filter(dataset=test).exists()


def test_datasets_of_different_projects_are_refused(project_with_roles):
    owner = project_with_roles.user("owner")
    other_project = project_services.project_create(user=owner, name="Other")
    training = make_dataset(project_with_roles.project, "train", drafts=labelled_drafts())
    test = make_dataset(other_project, "test", type="test")

    response = distribute(project_with_roles.client("owner"), project_with_roles.project, training, test)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "datasets_in_different_projects"


def test_types_must_be_train_then_test(project_with_roles):
    project = project_with_roles.project
    training = make_dataset(project, "train", drafts=labelled_drafts())
    other_train = make_dataset(project, "train2")

    response = distribute(project_with_roles.client("owner"), project, training, other_train)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "wrong_dataset_type"


@pytest.mark.parametrize(
    ("role", "status"), [("reviewer", 403), ("annotator", 403), ("viewer", 403), ("outsider", 404)]
)
def test_who_may_distribute(project_with_roles, role, status):
    project = project_with_roles.project
    training = make_dataset(project, "train", drafts=labelled_drafts())
    test = make_dataset(project, "test", type="test")

    response = distribute(project_with_roles.client(role), project, training, test)

    assert response.status_code == status
    assert not Image.objects.filter(dataset=test).exists()
