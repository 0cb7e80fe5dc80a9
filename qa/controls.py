"""Control characters and terminal escape sequences in untrusted text: where they are, and text without them.

Stored text keeps them (quotes and offsets stay exact); what reaches a terminal, a question, a file name shown to
a person or a short answer never does.
"""

from __future__ import annotations

import re

# Whole sequences first, so that no parameter ("]8;;http://…", "[2J") is left behind as text.
CONTROL_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI: colours, cursor moves, clearing the screen
    r"|\x1b[\]PX^_][\x20-\x7e]*(?:\x07|\x1b\\|\x9c)?"  # OSC (titles, hyperlinks), DCS, SOS, PM, APC
    r"|\x9b[0-?]*[ -/]*[@-~]?"  # 8-bit CSI
    r"|[\x9d\x90\x98\x9e\x9f][\x20-\x7e]*(?:\x07|\x9c)?"  # 8-bit OSC, DCS, SOS, PM, APC
    r"|\x1b[ -~]?"  # any other escape
    # Other C0 and C1 controls but tab and newline, and the bidirectional overrides that reorder a line.
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)


def strip_controls(text: str) -> str:
    """The text without escape sequences and control characters (tabs and newlines stay)."""
    return CONTROL_SEQUENCE.sub("", text)
