"""Each partner of a report has its own anchor, whatever punctuation its id holds."""

from types import SimpleNamespace

from callaudit.report.html import anchor


def test_ids_that_differ_only_by_punctuation_get_different_anchors():
    ids = ["a/b", "a.b", "a b", "a-b", "a_b", "ab"]
    anchors = [anchor(SimpleNamespace(partner_id=i)) for i in ids]
    assert len(set(anchors)) == len(ids)
    assert all(a.startswith("p-a") and " " not in a and "/" not in a for a in anchors)


def test_an_anchor_is_the_same_for_the_same_id_in_every_report():
    assert anchor(SimpleNamespace(partner_id="microsoft")) == anchor(
        SimpleNamespace(partner_id="microsoft")
    )
