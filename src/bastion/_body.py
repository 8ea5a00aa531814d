"""Request bodies under ``guard.protect(app)``: parse JSON and form bodies once, enforce the
structural limits (depth, array length), clean the fields a route declares ``rich_text`` with
the HTML allow-list, and inspect every value (rich text as cleaned, for script only).

Other media types (multipart uploads, binary) are passed through uninspected: the app owns
their validation. Bad input raises a :class:`~bastion.errors.BastionError` (400/422) and the
app never sees the request.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

import orjson

from bastion.config import RouteSettings, Settings
from bastion.errors import BadRequest, InvalidInput
from bastion.inspect import HtmlSanitizer, Verdict, inspect_fields, inspect_json

__all__ = ["BodyCheck", "Examined"]

_JSON, _FORM = "json", "form"


@dataclass(frozen=True, slots=True)
class Examined:
    """The verdict on a body (None: not inspected) and the body to hand to the app, which
    differs from the one received only when rich text was cleaned."""

    verdict: Verdict | None
    body: bytes


def media_kind(content_type: str) -> str | None:
    media = content_type.split(";")[0].strip().lower()
    if media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    ):
        return _JSON
    if media == "application/x-www-form-urlencoded":
        return _FORM
    return None


class BodyCheck:
    """Built once from settings; :meth:`examine` per request with a body."""

    def __init__(self, settings: Settings) -> None:
        s = settings.sanitize
        self.sanitizer = HtmlSanitizer(s.tags, s.attributes, s.url_schemes)
        self.max_depth = settings.server.max_json_depth
        self.max_array = settings.server.max_json_array

    def examine(self, route: RouteSettings, content_type: str, body: bytes) -> Examined:
        kind = media_kind(content_type)
        if not body or kind is None:
            return Examined(None, body)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(
                "The body is not valid UTF-8.", errors=[{"field": "body", "code": "utf8"}]
            ) from None
        if kind == _FORM:
            return self._form(route, text, body)
        return self._json(route, body)

    def _json(self, route: RouteSettings, body: bytes) -> Examined:
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise InvalidInput(
                "The body is not valid JSON.", errors=[{"field": "body", "code": "json"}]
            ) from None
        self._check_shape(document, 1)
        if not route.rich_text:
            return Examined(inspect_json(document), body)
        # Rich text is cleaned first and inspected as cleaned: markup the allow-list removes
        # is not an attack that reaches the app.
        cleaned = self._clean(document, frozenset(route.rich_text), under=False)
        verdict = inspect_json(cleaned, rich_text_fields=route.rich_text)
        return Examined(verdict, body if cleaned == document else orjson.dumps(cleaned))

    def _check_shape(self, node: object, depth: int) -> None:
        if depth > self.max_depth:
            raise BadRequest(f"The JSON body is nested deeper than {self.max_depth} levels.")
        if isinstance(node, list):
            if len(node) > self.max_array:
                raise BadRequest(f"A JSON array holds more than {self.max_array} items.")
            for item in node:
                self._check_shape(item, depth + 1)
        elif isinstance(node, dict):
            for item in node.values():
                self._check_shape(item, depth + 1)

    def _clean(self, node: object, fields: frozenset[str], *, under: bool) -> object:
        if isinstance(node, str):
            return self.sanitizer.clean(node) if under else node
        if isinstance(node, list):
            return [self._clean(item, fields, under=under) for item in node]
        if isinstance(node, dict):
            return {k: self._clean(v, fields, under=under or k in fields) for k, v in node.items()}
        return node

    def _form(self, route: RouteSettings, text: str, body: bytes) -> Examined:
        pairs = parse_qsl(text, keep_blank_values=True)
        if not route.rich_text:
            return Examined(inspect_fields(pairs), body)
        cleaned = list(self._clean_pairs(pairs, frozenset(route.rich_text)))
        verdict = inspect_fields(cleaned, rich_text_fields=route.rich_text)
        return Examined(verdict, body if cleaned == pairs else urlencode(cleaned).encode())

    def _clean_pairs(
        self, pairs: Iterable[tuple[str, str]], fields: frozenset[str]
    ) -> Iterable[tuple[str, str]]:
        for name, value in pairs:
            yield name, self.sanitizer.clean(value) if name in fields else value
