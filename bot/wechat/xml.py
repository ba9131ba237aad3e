"""A hardened reader for WeChat's flat XML messages.

WeChat never sends a DOCTYPE, so any document type declaration is refused before
the parser sees it: no entity expansion (billion laughs), no external entities. Only
UTF-8 is read, by the check and the parser alike, so no other encoding can hide a
DTD from that check. Only the
root's direct children are kept, as strings; nested parts (ScanCodeInfo and the
like) keep their text children flattened with a dotted name.
"""

from __future__ import annotations

from xml.etree import ElementTree

MAX_BYTES = 64 * 1024
MAX_FIELDS = 200
MAX_DEPTH = 4  # the root and three levels below it


class Unsafe(ValueError):
    """Not a WeChat message: malformed, too big, or carrying a DTD."""


def parse(body: bytes) -> dict[str, str]:
    if len(body) > MAX_BYTES:
        raise Unsafe("message too large")
    try:
        upper = body.decode("utf-8").upper()
    except UnicodeDecodeError:
        raise Unsafe("not UTF-8") from None
    if "<!DOCTYPE" in upper or "<!ENTITY" in upper:
        raise Unsafe("document type declarations are not allowed")
    # UTF-8 only, also for the parser: a document in UTF-16 (or claiming another
    # encoding) cannot hide a DTD from the check above. The C tree builder spares a
    # Python call per element and per piece of text.
    parser = ElementTree.XMLParser(encoding="utf-8")
    try:
        parser.feed(body)
        root = parser.close()
    except ElementTree.ParseError as exc:
        raise Unsafe(f"malformed XML: {exc}") from None
    fields: dict[str, str] = {}
    _flatten(root, "", 1, fields)
    if fields:
        return fields
    raise Unsafe("empty message")


def _flatten(element: ElementTree.Element, prefix: str, depth: int,
             fields: dict[str, str]) -> None:
    for child in element:
        if depth + 1 > MAX_DEPTH or len(fields) > MAX_FIELDS:
            raise Unsafe("message too deep or too wide")
        name = prefix + child.tag
        _flatten(child, name + ".", depth + 1, fields)
        # A parent's own value is whatever text follows its last child, as before.
        fields[name] = (child[-1].tail if len(child) else child.text) or ""
