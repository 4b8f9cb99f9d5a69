"""The base of every command: a typed, frozen description of one write."""

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

Id = Annotated[int, Field(gt=0, lt=2**63)]
Timestamp = Annotated[int, Field(ge=0, lt=2**53)]
# What "not blank" is in the OpenAPI document: a character other than whitespace (and
# no NUL, which no text may hold; str.strip() also takes U+001C-U+001F and U+0085).
NOT_BLANK = Field(json_schema_extra={"pattern": r"^[^\x00]*[^\s\x00\x1c-\x1f\x85][^\x00]*$"})
NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1), NOT_BLANK]


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be blank")
    return text


# Post bodies keep their whitespace (markdown cares) but must say something.
Text = Annotated[str, AfterValidator(_not_blank), NOT_BLANK]


class Command(BaseModel):
    """One write, as the API hands it to the workers. ``kind`` is the discriminator."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    kind: str

    def ordering_key(self) -> str | None:
        """Writes to one post or topic are applied in the order they were accepted."""
        fields = type(self).model_fields  # a missing attribute would raise inside pydantic
        for field, prefix in (("pid", "post"), ("tid", "topic")):
            value = getattr(self, field) if field in fields else None
            if isinstance(value, int) and value > 0:
                return f"{prefix}:{value}"
        return None
