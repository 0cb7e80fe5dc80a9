"""Fixed phrases shared by the answerers, the shells and the tests."""

CANNOT_ANSWER = "I couldn't find this in the articles."
# When an LLM's answer does not name the extractive answer: which of the two the LLM's citations support.
EXTRACTIVE_ALSO_CITED = (
    "The passages {label} cited also name “{short}”, the extractive answer (confidence {confidence:.2f}), which "
    "{label}'s answer does not."
)
EXTRACTIVE_ELSEWHERE = (
    "The extractive answer would be “{short}” (confidence {confidence:.2f}, from “{title}”); the passages {label} "
    "cited do not name it."
)


def short_answer_frame(confidence: float | None, shown_threshold: float) -> tuple[str, str, bool]:
    """What stands before and after a short answer, and whether it is bold: bold only from the shown threshold
    ("eight [1] · confidence 0.81"); below it "Possibly eight [1] · confidence 0.31, not sure"; an answer without
    a confidence (an LLM's) plain bold."""
    if confidence is None:
        return "", " [1]", True
    if confidence >= shown_threshold:
        return "", f" [1] · confidence {confidence:.2f}", True
    return "Possibly ", f" [1] · confidence {confidence:.2f}, not sure", False
