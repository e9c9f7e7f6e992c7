from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "quality"
    verbose_name = "Quality"

    def ready(self) -> None:
        # annotations sits below this app and may not import it: the submission service calls the
        # quality controls through its hook list, and the export offers the aggregates registered
        # with it.
        from annotations.exports import register_aggregate
        from annotations.hooks import on_label_stored
        from quality.aggregates import DAWID_SKENE
        from quality.services import label_reviewed

        on_label_stored(label_reviewed)
        register_aggregate(DAWID_SKENE)
