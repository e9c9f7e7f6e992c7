"""The ML engineers' API for projects: which projects a token may see, and importing items.

Views only parse input, call the service and serialise output. Projects are looked up by their
internal slug through the one door (`projects.permissions`); the export and the project's
detail (which shows progress) live in `annotations.api`, since this app never imports that one.
"""

import json
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from labelhub.fastjson import TooDeep, checked_loads
from labelhub.openapi import error_response
from projects.admin_import import MAX_UPLOAD_BYTES
from projects.importing import ITEM_RULES, ITEM_SCHEMA, LineError, parse_items
from projects.models import Project
from projects.permissions import Perm, project_for, projects_for
from projects.services import ImportRejected, items_import


class ExpertProjectSerializer(serializers.Serializer):
    """What an expert may know of a project: never its client, name or internal slug."""

    codename = serializers.CharField()
    code = serializers.CharField()


class ProjectSerializer(ExpertProjectSerializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    client = serializers.CharField(source="client.name")
    kind = serializers.CharField()
    status = serializers.CharField()


def project_rows(user: Any, projects: QuerySet[Project]) -> list[dict[str, Any]]:
    # The client shows only where the user may export (managers, the client's viewers, staff),
    # as on the home page; everyone else sees what an expert sees.
    overseen = set(projects_for(user, Perm.EXPORT).values_list("pk", flat=True))
    return [
        (ProjectSerializer if project.pk in overseen else ExpertProjectSerializer)(project).data
        for project in projects
    ]


class ProjectListView(APIView):
    """GET: the projects this token may see."""

    @extend_schema(responses=ProjectSerializer(many=True))
    def get(self, request: Request) -> Response:
        projects = projects_for(request.user, Perm.VIEW).select_related("client").order_by("codename")
        return Response(project_rows(request.user, projects))


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = f"The body is larger than {MAX_UPLOAD_BYTES // 2**20} MB; send it in parts."


class RawBodyParser(BaseParser):
    """Hands the body over unparsed (at most MAX_UPLOAD_BYTES), for `parse_items` to read."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> bytes:
        body = stream.read(MAX_UPLOAD_BYTES + 1) if stream is not None else b""
        if len(body) > MAX_UPLOAD_BYTES:
            raise PayloadTooLarge()
        return body


class JSONListParser(RawBodyParser):
    media_type = "application/json"


class JSONLinesParser(RawBodyParser):
    media_type = "application/jsonl"


class NDJSONParser(RawBodyParser):
    media_type = "application/x-ndjson"


class PlainTextParser(RawBodyParser):
    media_type = "text/plain"


def jsonl_from_json_list(body: bytes) -> bytes | LineError:
    """A JSON list of items as JSONL, one element per line, so line N is element N (from 1)."""
    try:
        data = checked_loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, TooDeep) as exc:
        return LineError(getattr(exc, "lineno", 1), f"the body is not valid JSON: {exc}")
    if not isinstance(data, list):
        return LineError(1, "send a JSON list of items (or JSONL with Content-Type application/jsonl)")
    return "\n".join(json.dumps(element, ensure_ascii=False) for element in data).encode()


class ImportReportSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()


ITEM_ERRORS = inline_serializer(
    "ItemErrors", {"errors": serializers.ListField(child=serializers.CharField())}
)
ITEMS = {"type": "array", "minItems": 1, "items": ITEM_SCHEMA, "description": ITEM_RULES}


class ItemsView(APIView):
    """POST: add items to a project, all or nothing, checked exactly as the import command checks."""

    parser_classes = [JSONListParser, JSONLinesParser, NDJSONParser, PlainTextParser]

    @extend_schema(
        # JSONL is the same list, one item per line.
        request={
            media_type: ITEMS
            for media_type in ("application/json", "application/jsonl", "application/x-ndjson")
        },
        parameters=[
            OpenApiParameter(
                "update",
                {"type": "string", "enum": ["true", "false"]},
                description="Replace items whose id exists with different content.",
            )
        ],
        responses={
            201: ImportReportSerializer,
            400: OpenApiResponse(ITEM_ERRORS, description="Items that are not well formed, by line."),
            409: OpenApiResponse(ITEM_ERRORS, description="Items that conflict with those stored, by line."),
            413: error_response(PayloadTooLarge.default_detail),
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        project = project_for(request.user, Perm.MANAGE, slug=slug)
        update = request.query_params.get("update", "false")
        if update not in ("true", "false"):
            return Response({"errors": [f"update must be true or false, not {update!r}"]}, status=400)
        body = request.data if isinstance(request.data, bytes) else b""
        if request.content_type.split(";")[0].strip().lower() == "application/json":
            body = jsonl_from_json_list(body)
        errors = [body] if isinstance(body, LineError) else []
        if not errors:
            parsed = parse_items(body, fmt="jsonl", kind=project.kind)
            errors = parsed.errors
        if errors:
            return line_errors(errors, status.HTTP_400_BAD_REQUEST)
        try:
            report = items_import(project=project, records=parsed.items, update=update == "true")
        except ImportRejected as rejected:
            # Well-formed items that conflict with stored ones (changed content, labelled items).
            return line_errors(rejected.errors, status.HTTP_409_CONFLICT)
        return Response(ImportReportSerializer(report).data, status=status.HTTP_201_CREATED)


def line_errors(errors: list[LineError], code: int) -> Response:
    return Response({"errors": [f"line {error.line}: {error.message}" for error in errors]}, status=code)
