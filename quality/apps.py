from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "quality"
    verbose_name = "Quality"

    def ready(self) -> None:
        # The submission service calls the quality controls through this hook: annotations sit
        # below quality and may not import it.
        from annotations.hooks import on_label_stored
        from quality.services import label_reviewed

        on_label_stored(label_reviewed)
