"""Render a report.html in headless Chromium to PNG, to look at it as a reader would.

    .venv/bin/python scripts/screenshot_report.py data/reports/2022/report.html \
        --out /tmp/report.png [--anchor p-microsoft | --top 0] [--height 3000] \
        [--width 1100] [--pdf /tmp/report.pdf]

Any part of a long page can be captured: from the top, from a pixel offset, or from an
element id (partners are ``p-<partner_id>``; also ``findings``, ``platform``, ``reviews``,
``quality``). It also prints the page height and every request the page made (a report
must make none besides loading itself). Needs Chromium (Debian: apt-get install chromium).
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callaudit.report import chromium
from tests.devtools import Page


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path, help="report.html to render")
    parser.add_argument("--out", type=Path, default=Path("report.png"), help="PNG to write")
    parser.add_argument("--width", type=int, default=1100, help="page width in CSS pixels")
    parser.add_argument("--height", type=int, default=3000, help="height of the capture")
    parser.add_argument("--top", type=int, default=0, help="start this many pixels down")
    parser.add_argument("--anchor", default="", help="start at this element id, e.g. p-microsoft")
    parser.add_argument("--pdf", type=Path, help="also print the page to this PDF")
    args = parser.parse_args()
    if chromium.find_chromium() is None:
        print("screenshot_report: chromium is not installed", file=sys.stderr)
        return 1
    if not args.html.exists():
        print(f"screenshot_report: {args.html} does not exist", file=sys.stderr)
        return 1
    with Page(width=args.width) as page:
        page.open(args.html)
        top = page.element_top(args.anchor) if args.anchor else args.top
        total = page.page_height()
        page.screenshot(
            args.out, top=top, height=min(args.height, max(total - top, 1)), width=args.width
        )
        others = [u for u in page.requests() if u != args.html.resolve().as_uri()]
    print(f"{args.out}: {args.width}x{args.height} from y={top} of a {total}px page")
    print("requests besides the page: " + (", ".join(others) if others else "none"))
    if args.pdf:
        chromium.html_to_pdf(args.html, args.pdf)
        print(args.pdf)
    return 0


if __name__ == "__main__":
    sys.exit(main())
