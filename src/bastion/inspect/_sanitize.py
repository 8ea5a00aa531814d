"""HTML sanitisation for fields declared rich text, by allow-list, with nh3 (ammonia).

``attributes`` maps a tag to the attributes it keeps; the key ``"*"`` lists those every
allowed tag keeps.

Rich-text fields are not blocked for looking like code; they are cleaned instead: tags and
attributes outside the allow-list are dropped, ``<script>``/``<style>`` lose their content,
URLs keep only allowed schemes, and links get ``rel="noopener noreferrer"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import nh3

__all__ = ["DEFAULT_ATTRIBUTES", "DEFAULT_TAGS", "DEFAULT_URL_SCHEMES", "HtmlSanitizer"]

DEFAULT_TAGS: frozenset[str] = frozenset(
    {"a", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "hr", "i"}
    | {"img", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "u", "ul"}
    | {"table", "tbody", "td", "th", "thead", "tr"}
)
DEFAULT_ATTRIBUTES: Mapping[str, frozenset[str]] = {
    "*": frozenset({"title", "lang"}),
    "a": frozenset({"href", "title"}),
    "img": frozenset({"src", "alt", "title", "width", "height"}),
    "td": frozenset({"colspan", "rowspan"}),
    "th": frozenset({"colspan", "rowspan"}),
}
DEFAULT_URL_SCHEMES: frozenset[str] = frozenset({"https", "http", "mailto"})
_DROP_WITH_CONTENT = frozenset({"script", "style"})


class HtmlSanitizer:
    """``HtmlSanitizer().clean(html)``: the fragment with only allow-listed markup left.

    >>> HtmlSanitizer().clean('<p onclick="x()">Hi <script>alert(1)</script><b>there</b></p>')
    '<p>Hi <b>there</b></p>'
    >>> HtmlSanitizer().clean('<a href="javascript:alert(1)">x</a>')
    '<a rel="noopener noreferrer">x</a>'
    """

    __slots__ = ("_cleaner", "attributes", "tags", "url_schemes")

    def __init__(
        self,
        tags: Iterable[str] = DEFAULT_TAGS,
        attributes: Mapping[str, Iterable[str]] = DEFAULT_ATTRIBUTES,
        url_schemes: Iterable[str] = DEFAULT_URL_SCHEMES,
    ) -> None:
        self.tags = frozenset(tags)
        self.attributes = {tag: frozenset(names) for tag, names in attributes.items()}
        self.url_schemes = frozenset(url_schemes)
        self._cleaner = nh3.Cleaner(
            tags=set(self.tags - _DROP_WITH_CONTENT),
            clean_content_tags=set(_DROP_WITH_CONTENT),
            attributes={tag: set(names) for tag, names in self.attributes.items()},
            url_schemes=set(self.url_schemes),
            link_rel="noopener noreferrer",
            strip_comments=True,
        )

    def clean(self, html: str) -> str:
        """Never raises on text input; the result is safe to place in an HTML body."""
        return self._cleaner.clean(html)
