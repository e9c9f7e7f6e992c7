from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "quality"
    verbose_name = "Quality"

    def ready(self) -> None:
        # annotations sits below this app and may not import it: the submission service calls the
        # quality controls through its hook list, the export offers the aggregates registered
        # with it, and the `annotations` format carries each annotation's signals added here.
        from annotations.exports import add_columns, register_aggregate
        from annotations.hooks import on_label_stored
        from quality.aggregates import DAWID_SKENE
        from quality.export_columns import SIGNALS
        from quality.services import label_reviewed

        on_label_stored(label_reviewed)
        register_aggregate(DAWID_SKENE)
        add_columns("annotations", SIGNALS)
