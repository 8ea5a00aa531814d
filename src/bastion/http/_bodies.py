"""Reading a request body once, within a limit, and handing it on: the one reader of the
service's body guard, ``guard.protect``'s body checks, the signature check and sealed
payloads."""

from __future__ import annotations

from starlette.types import Message, Receive

__all__ = ["declared_over", "read_body", "replay"]


def declared_over(headers: list[tuple[bytes, bytes]], limit: int) -> bool:
    """Whether the request's ``Content-Length`` (the last one; none counts as 0) is not a
    plain number or passes ``limit``: then answer 413 without reading."""
    declared = b"0"
    for name, value in headers:
        if name == b"content-length":
            declared = value
    return not declared.isdigit() or int(declared) > limit


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None once it passes ``limit`` bytes (the rest is not read).
    Raises ConnectionError when the client disconnects first."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionError
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        if not message.get("more_body", False):
            if not chunks and type(chunk) is bytes:
                return chunk  # the usual body, in one message
            chunks.append(chunk)
            return b"".join(chunks)
        chunks.append(chunk)


def replay(body: bytes, original: Receive) -> Receive:
    """A ``receive`` that hands the app ``body`` (already read) in one message, then defers to
    ``original`` (which reports the client's disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await original()

    return receive
