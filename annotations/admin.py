from django.contrib import admin

from annotations.models import Annotation, Assignment, Skip


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ["item", "expert", "preference", "strength", "submitted_at"]
    list_filter = ["project", "preference"]
    readonly_fields = [f.name for f in Annotation._meta.fields]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["item", "expert", "status", "shown_left", "expires_at"]
    list_filter = ["project", "status"]
    readonly_fields = [f.name for f in Assignment._meta.fields]


@admin.register(Skip)
class SkipAdmin(admin.ModelAdmin):
    list_display = ["item", "expert", "reason", "created_at"]
    list_filter = ["project", "reason"]
    readonly_fields = [f.name for f in Skip._meta.fields]
