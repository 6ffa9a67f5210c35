"""A tagged PDF's structure element names numbered 1, 2, 3... (Chromium names them
after a renderer counter): the same elements, the same bytes wherever it printed."""

from callaudit.report.pdf import number_structure_ids


def _tagged(first: int, second: int, *, alt: bytes = b"") -> bytes:
    """The structure parts of a Skia PDF naming two elements (a header cell and a
    data cell pointing at it), as Chromium writes them."""
    a, b = b"node%08d" % first, b"node%08d" % second
    return (
        b"10 0 obj\n<</Type /StructElem\n/S /TH\n/ID (" + a + b")>>\nendobj\n"
        b"11 0 obj\n<</Type /StructElem\n/S /TD\n/A [<</O /Table\n/Headers [(" + a + b")]>>]"
        b"\n/ID (" + b + b")" + alt + b">>\nendobj\n"
        b"12 0 obj\n<</Limits [(" + a + b") (" + b + b")]\n"
        b"/Names [(" + a + b") 10 0 R (" + b + b") 11 0 R]>>\nendobj\n"
    )


def test_names_from_any_renderer_are_numbered_the_same_and_keep_their_width():
    fresh, laid_out_before = _tagged(45, 143), _tagged(2023, 2121)

    numbered = number_structure_ids(fresh)

    assert numbered == number_structure_ids(laid_out_before) == _tagged(1, 2)
    assert len(numbered) == len(fresh)  # the cross-reference offsets stay right


def test_a_name_somewhere_else_leaves_the_pdf_as_it_is():
    text_like_a_name = _tagged(45, 143, alt=b"\n/Alt (node00000045)")

    assert number_structure_ids(text_like_a_name) == text_like_a_name


def test_a_pdf_without_structure_is_left_as_it_is():
    untagged = b"%PDF-1.4\n1 0 obj\n<</Type /Catalog>>\nendobj\n"

    assert number_structure_ids(untagged) == untagged
