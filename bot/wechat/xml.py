"""A hardened reader for WeChat's flat XML messages.

WeChat never sends a DOCTYPE, so any document type declaration is refused before
expat sees it: no entity expansion (billion laughs), no external entities. expat
itself also runs with entity declarations forbidden, as a second wall. Only the
root's direct children are kept, as strings; nested parts (ScanCodeInfo and the
like) keep their text children flattened with a dotted name.
"""

from __future__ import annotations

from xml.parsers import expat

MAX_BYTES = 64 * 1024
MAX_FIELDS = 200


class Unsafe(ValueError):
    """Not a WeChat message: malformed, too big, or carrying a DTD."""


def parse(body: bytes) -> dict[str, str]:
    if len(body) > MAX_BYTES:
        raise Unsafe("message too large")
    upper = body.upper()
    if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
        raise Unsafe("document type declarations are not allowed")
    fields: dict[str, str] = {}
    path: list[str] = []
    text: list[str] = []
    parser = expat.ParserCreate("utf-8")

    def forbid(*_args: object) -> None:
        raise Unsafe("document type declarations are not allowed")

    def start(name: str, _attrs: dict[str, str]) -> None:
        path.append(name)
        text.clear()
        if len(path) > 4 or len(fields) > MAX_FIELDS:
            raise Unsafe("message too deep or too wide")

    def end(name: str) -> None:
        if len(path) >= 2:
            fields[".".join(path[1:])] = "".join(text)
        path.pop()
        text.clear()

    parser.StartDoctypeDeclHandler = forbid
    parser.EntityDeclHandler = forbid
    parser.ExternalEntityRefHandler = forbid
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text.append
    parser.buffer_text = True
    try:
        parser.Parse(body, True)
    except expat.ExpatError as exc:
        raise Unsafe(f"malformed XML: {exc}") from None
    if not path and fields:
        return fields
    raise Unsafe("empty message")
