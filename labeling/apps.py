from django.apps import AppConfig


class LabelingConfig(AppConfig):
    name = "labeling"

    def ready(self) -> None:
        from labeling import label_changes  # noqa: F401  (connects its receivers)
