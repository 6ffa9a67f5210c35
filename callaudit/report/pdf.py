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


def _objects(data: bytes) -> dict[int, bytes]:
    """Object number -> its dictionary text, from the cross-reference table's offsets."""
    start = data.rfind(b"startxref")
    if start < 0:
        return {}
    offset = int(data[start + 9 :].split()[0])
    if not data[offset:].startswith(b"xref"):
        return {}
    lines = data[offset:].split(b"\n")
    objects: dict[int, bytes] = {}
    i = 1
    while i < len(lines) and not lines[i].startswith(b"trailer"):
        header = lines[i].split()
        if len(header) != 2:
            break
        first, count = int(header[0]), int(header[1])
        for n in range(count):
            entry = lines[i + 1 + n].split()
            if len(entry) >= 3 and entry[2] == b"n":
                where = int(entry[0])
                match = _OBJ.match(data, where)
                if match:
                    objects[first + n] = match.group(2)
        i += 1 + count
    return objects


def _ref(text: bytes, key: bytes) -> int | None:
    match = re.search(rb"/" + key + rb"\s+" + _REF, text)
    return int(match.group(1)) if match else None


def page_destinations(data: bytes) -> dict[str, int]:
    """Anchor id -> 1-based page number, for every named destination of the PDF."""
    try:
        objects = _objects(data)
        catalog = next((o for o in objects.values() if re.search(rb"/Type\s*/Catalog", o)), None)
        if catalog is None:
            return {}
        pages_root, dests = _ref(catalog, b"Pages"), _ref(catalog, b"Dests")
        if pages_root is None or dests is None:
            return {}
        order: list[int] = []

        def walk(number: int) -> None:
            node = objects.get(number, b"")
            if re.search(rb"/Type\s*/Pages\b", node):
                kids = re.search(rb"/Kids\s*\[(.*?)\]", node, re.S)
                for kid in re.findall(_REF, kids.group(1) if kids else b""):
                    walk(int(kid))
            elif re.search(rb"/Type\s*/Page\b", node):
                order.append(number)

        walk(pages_root)
        page_of = {number: index + 1 for index, number in enumerate(order)}
        found = {}
        for name, page in re.findall(rb"/([^\s/\[\]<>()]+)\s*\[\s*" + _REF, objects[dests]):
            if int(page) in page_of:
                found[name.decode("latin-1")] = page_of[int(page)]
        return found
    except (ValueError, KeyError, IndexError):
        return {}


def page_count(data: bytes) -> int:
    """Pages of a PDF (its page objects)."""
    return len(re.findall(rb"/Type\s*/Page\b", data))
