"""Reading back the PDF Chromium prints: which page each anchor of the report landed on.

Chromium cannot number the contents of a printed page itself (no CSS
``target-counter``), but its PDF keeps every ``id`` of the page as a named destination
pointing at a page object. So the report is printed once, the destinations are read
here, the contents are filled in with those page numbers, and it is printed again (the
numbers take no extra line, so the pages do not move).

Only what Chromium's (Skia's) writer produces is read: a classic cross-reference table,
an uncompressed catalog, page tree and ``/Dests`` dictionary. Anything else gives an
empty mapping, and the contents are printed without page numbers.
"""

import re

_OBJ = re.compile(rb"(\d+) 0 obj\s*(.*?)\s*(?:endobj|stream)", re.S)
_REF = rb"(\d+) 0 R"


def _offsets(data: bytes) -> tuple[dict[int, int], bytes]:
    """Object number -> byte offset, from the cross-reference table, and the trailer."""
    start = data.rfind(b"startxref")
    if start < 0:
        return {}, b""
    offset = int(data[start + 9 :].split()[0])
    if not data[offset:].startswith(b"xref"):
        return {}, b""
    trailer = data.find(b"trailer", offset)
    if trailer < 0:
        return {}, b""
    lines = data[offset:trailer].split(b"\n")
    offsets: dict[int, int] = {}
    i = 1
    while i < len(lines):
        header = lines[i].split()
        if len(header) != 2:
            break
        first, count = int(header[0]), int(header[1])
        for n in range(count):
            entry = lines[i + 1 + n].split()
            if len(entry) >= 3 and entry[2] == b"n":
                offsets[first + n] = int(entry[0])
        i += 1 + count
    return offsets, data[trailer:start]


def _ref(text: bytes, key: bytes) -> int | None:
    match = re.search(rb"/" + key + rb"\s+" + _REF, text)
    return int(match.group(1)) if match else None


def page_destinations(data: bytes) -> dict[str, int]:
    """Anchor id -> 1-based page number, for every named destination of the PDF.

    Only the objects it needs are read (the catalog the trailer names, the page tree,
    the destinations), found by their offsets: the report's PDF has some 13,000
    objects, and reading them all took 0.1 s of each print (2026-11-29)."""
    try:
        offsets, trailer = _offsets(data)

        def read(number: int) -> bytes:
            match = _OBJ.match(data, offsets[number]) if number in offsets else None
            return match.group(2) if match else b""

        root = _ref(trailer, b"Root")
        catalog = read(root) if root is not None else b""
        if not re.search(rb"/Type\s*/Catalog", catalog):
            return {}
        pages_root, dests = _ref(catalog, b"Pages"), _ref(catalog, b"Dests")
        if pages_root is None or dests is None:
            return {}
        order: list[int] = []

        def walk(number: int) -> None:
            node = read(number)
            if re.search(rb"/Type\s*/Pages\b", node):
                kids = re.search(rb"/Kids\s*\[(.*?)\]", node, re.S)
                for kid in re.findall(_REF, kids.group(1) if kids else b""):
                    walk(int(kid))
            elif re.search(rb"/Type\s*/Page\b", node):
                order.append(number)

        walk(pages_root)
        page_of = {number: index + 1 for index, number in enumerate(order)}
        found = {}
        for name, page in re.findall(rb"/([^\s/\[\]<>()]+)\s*\[\s*" + _REF, read(dests)):
            if int(page) in page_of:
                found[name.decode("latin-1")] = page_of[int(page)]
        return found
    except (ValueError, KeyError, IndexError):
        return {}


def page_count(data: bytes) -> int:
    """Pages of a PDF (its page objects)."""
    return len(re.findall(rb"/Type\s*/Page\b", data))


#: Where a tagged PDF names its structure elements (Skia writes ``(node`` and the
#: renderer's DOM node id in eight digits): an element's own ``/ID``, the ``/Headers``
#: of a table cell, and the ``/IDTree`` name tree's ``/Names`` and ``/Limits``.
_ID_PLACES = re.compile(
    rb"/ID \(node\d+\)"
    rb"|/Headers \[(?:\s*\(node\d+\))+\s*\]"
    rb"|/Limits \[\(node\d+\) \(node\d+\)\]"
    rb"|/Names \[(?:\s*\(node\d+\) \d+ 0 R)+\s*\]"
)
_ID = re.compile(rb"\(node(\d+)\)")


def number_structure_ids(data: bytes) -> bytes:
    """The PDF with its structure elements' ids numbered 1, 2, 3... in their order.

    Chromium names each element of a tagged PDF after its DOM node's id, a counter of
    the renderer process: the same page printed in a renderer that had laid out a page
    before (or, now and then, in a fresh one) gets other names and the same elements.
    Numbered, a print depends only on the page. Each name keeps its width, so every
    byte offset (the cross-reference table) stays right, and the order, so the
    ``/IDTree``'s sorted keys stay sorted. A PDF with a name anywhere else, or of
    another width than eight digits, is returned as it is."""
    places = list(_ID_PLACES.finditer(data))
    names = {name for place in places for name in _ID.findall(place.group())}
    if not names or any(len(name) != 8 for name in names):
        return data
    if len(_ID.findall(data)) != sum(len(_ID.findall(place.group())) for place in places):
        return data  # a name outside the known places: renaming would leave it dangling
    number = {name: b"%08d" % rank for rank, name in enumerate(sorted(names), start=1)}

    def rename(place: re.Match) -> bytes:
        return _ID.sub(lambda name: b"(node" + number[name.group(1)] + b")", place.group())

    return _ID_PLACES.sub(rename, data)
