"""A hardened reader for WeChat's XML messages.

WeChat never sends a DTD, so the parser itself refuses one: a document type, entity or
notation declaration, or a reference to an external entity, stops expat at once, so
nothing is expanded (billion laughs) or fetched (external entities), whatever bytes
the declaration hides in. Only UTF-8 is read. A NUL byte is refused before parsing:
every UTF-16 or UTF-32 document has some (with a BOM or without), and expat would
otherwise switch to that encoding on its own, whatever encoding it was told. The XML
declaration is the first thing expat reports, and one naming any other encoding stops
it there, before the rest is read.

Other control characters (U+0001 to U+001F but tab, line feed and carriage return)
are dropped before parsing. XML 1.0 allows them nowhere, not even as &#x1;, yet
WeChat puts what a member typed into CDATA as it is, control characters included
(pasted text carries U+001D or U+0010 now and then; other WeChat libraries met the
same): refusing would leave a member who wrote a valid, signed message without an
answer, and WeChat retrying it in vain. In UTF-8 these bytes are never part of another
character, so dropping them changes nothing else. NUL stays refused, as above.

A malformed message is refused in our words with where it broke, not in expat's.

Nested parts (SendPicsInfo, CopyrightCheckResult and the like) are flattened with
dotted names; a repeated element keeps its last value. The limits come from WeChat's
real messages (tests/support/wechat_fixtures/): the deepest is five levels counting the root
(xml/SendPicsInfo/PicList/item/PicMd5Sum, xml/CopyrightCheckResult/ResultList/item/
ArticleIdx), and the widest, MASSSENDJOBFINISH for eight articles, has about 120
elements.
"""

from __future__ import annotations

from xml.parsers import expat

MAX_BYTES = 64 * 1024
MAX_DEPTH = 6  # the root and five levels below it: one more than any real message
MAX_ELEMENTS = 400  # over three times the widest real message
# The C0 controls XML 1.0 forbids (NUL is refused before this is used).
CONTROLS = bytes(c for c in range(1, 0x20) if c not in (0x09, 0x0A, 0x0D))


class Unsafe(ValueError):
    """Not a WeChat message: malformed, too big, not UTF-8, or carrying a DTD."""


def parse(body: bytes) -> dict[str, str]:
    """The message's fields by (dotted) element name; raises Unsafe."""
    if len(body) > MAX_BYTES:
        raise Unsafe("message too large")
    if b"\x00" in body:
        raise Unsafe("NUL bytes are not allowed: only UTF-8 is accepted")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise Unsafe("not UTF-8") from None
    body = body.translate(None, CONTROLS)
    reader = _Reader()
    parser = expat.ParserCreate("utf-8")  # overrides the declaration for ASCII-based bytes
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.XmlDeclHandler = _declaration
    parser.StartDoctypeDeclHandler = _no_dtd
    parser.EntityDeclHandler = _no_dtd
    parser.UnparsedEntityDeclHandler = _no_dtd
    parser.NotationDeclHandler = _no_dtd
    parser.ExternalEntityRefHandler = _no_dtd
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.text.append
    try:
        parser.Parse(body, True)
    except expat.ExpatError as exc:
        raise Unsafe(f"malformed XML (line {exc.lineno}, column {exc.offset})") from None
    if reader.fields:
        return reader.fields
    raise Unsafe("empty message")


def _declaration(version: str, encoding: str | None, standalone: int) -> None:
    if encoding is not None and encoding.upper() != "UTF-8":
        raise Unsafe(f"only UTF-8 is accepted, not {encoding[:20]!r}")


def _no_dtd(*_: object) -> None:
    raise Unsafe("document type declarations are not allowed")


class _Reader:
    """Collects the fields as expat reports elements: no tree is built."""

    __slots__ = ("fields", "names", "text", "count")

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.names: list[str] = []  # dotted names of the open elements below the root
        self.text: list[str] = []  # text since the last tag
        self.count = 0

    def start(self, name: str, _attributes: object) -> None:
        self.count += 1
        if self.count > 1:
            if len(self.names) + 2 > MAX_DEPTH or self.count > MAX_ELEMENTS:
                raise Unsafe("message too deep or too wide")
            self.names.append(f"{self.names[-1]}.{name}" if self.names else name)
        self.text.clear()

    def end(self, _name: str) -> None:
        if self.names:
            # A parent's own value is whatever text follows its last child.
            self.fields[self.names.pop()] = "".join(self.text)
        self.text.clear()
