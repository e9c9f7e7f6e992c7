from django.contrib import admin

from projects.models import Client, Guideline, Item, Membership, Project, Response


class ResponseInline(admin.TabularInline):
    model = Response
    extra = 0


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "codename", "client", "labels_per_item", "created_at"]
    list_filter = ["client"]
    search_fields = ["slug", "name", "codename"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["external_id", "project", "domain", "is_chat", "created_at"]
    list_filter = ["project", "domain", "is_chat"]
    search_fields = ["external_id"]
    inlines = [ResponseInline]


@admin.register(Guideline)
class GuidelineAdmin(admin.ModelAdmin):
    list_display = ["project", "version", "created_at", "created_by"]
    list_filter = ["project"]
    readonly_fields = ["project", "version", "body", "created_at", "created_by"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # a new version is published through the service, never edited in place


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "project", "role", "created_at"]
    list_filter = ["project", "role"]
    readonly_fields = ["user", "project", "role", "created_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # grants go through membership_grant, which also sets the object permissions
