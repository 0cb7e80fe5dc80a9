"""Fixed phrases shared by the answerers, the shells and the tests."""

CANNOT_ANSWER = "I couldn't find this in the articles."
