"""The API's request parsers (settings.REST_FRAMEWORK's DEFAULT_PARSER_CLASSES)."""

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from labelhub.fastjson import MAX_DEPTH, TooDeep, depth


class JSONParser(parsers.JSONParser):
    """DRF's, but a body nested past `MAX_DEPTH` levels is a 400 that says so, not the
    RecursionError (a 500) that json meets on its way down."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
            if depth(data) > MAX_DEPTH:
                raise TooDeep
        except (RecursionError, TooDeep):
            raise ParseError(f"JSON parse error - {TooDeep()}") from None
        return data
