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
