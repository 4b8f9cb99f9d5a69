"""The ``Prefer`` header (RFC 7240): ``respond-async`` and ``wait=N``."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Preference:
    respond_async: bool = False
    wait: float | None = None


def parse_prefer(header: str | None) -> Preference:
    respond_async, wait = False, None
    for part in (header or "").split(","):
        token = part.split(";")[0].strip().lower()
        if token == "respond-async":
            respond_async = True
        elif token.startswith("wait="):
            try:
                wait = max(0.0, float(token.removeprefix("wait=")))
            except ValueError:
                continue
    return Preference(respond_async=respond_async, wait=wait)


def wait_seconds(preference: Preference, default: float, cap: float) -> float:
    if preference.respond_async:
        return 0.0
    return min(preference.wait if preference.wait is not None else default, cap)
