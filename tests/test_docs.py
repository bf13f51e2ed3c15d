"""The README and docs/ say what pollsite is and does; how it came to be is in the git log.

So no issue numbers and no commit ids in them: they mean nothing to an operator and go stale.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ISSUE_NUMBER = re.compile(r"\bissues?\s+#?[0-9]", re.IGNORECASE)
# Seven or more hex digits with at least one letter and one digit: a commit id, not a number
# (1,000,000) and not a word (deadbeef, facade).
COMMIT_ID = re.compile(r"\b(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b")


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def history_lines(path: Path) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if ISSUE_NUMBER.search(line) or COMMIT_ID.search(line)
    ]


def test_it_finds_issue_numbers_and_commit_ids_but_not_numbers_or_words():
    found = [
        "as issue 13 asks",
        "(Issue #6)",
        "at c588118, with nothing else",
        "commit aecbf2f",
        "b593b3f: the old limiter",
        "e051621",
    ]
    not_found = ["1,003,174 ballots", "1000000 votes", "a deadbeef facade", "issues of scale"]
    assert all(ISSUE_NUMBER.search(line) or COMMIT_ID.search(line) for line in found)
    assert not any(ISSUE_NUMBER.search(line) or COMMIT_ID.search(line) for line in not_found)


def test_it_keeps_issue_numbers_and_commit_ids_out_of_the_documents():
    assert (ROOT / "docs" / "performance.md") in documents()
    lines = [line for path in documents() for line in history_lines(path)]
    assert not lines, "history belongs in the git log:\n" + "\n".join(lines)
