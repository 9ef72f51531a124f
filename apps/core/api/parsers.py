"""Request body parsers of the API."""

from __future__ import annotations

import codecs
import json
import math
from collections.abc import Mapping
from typing import IO, Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils.json import strict_constant


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large")
    return value


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser (strict: no NaN or Infinity), answering 400 where it answered 500:

    - JSON nested too deeply to decode (Python's decoder recurses once per level: a body of
      100,000 `[` raised RecursionError, which DRF does not catch);
    - a number too large for a float (`1e400` decoded as infinity, and an id field then
      raised OverflowError turning it into an integer)."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        encoding = parsers.get_encoding(parser_context or {})  # type: ignore[attr-defined]  # not in the stubs
        try:
            decoded_stream = codecs.getreader(encoding)(stream)
            return json.load(
                decoded_stream,
                parse_constant=strict_constant if self.strict else None,
                parse_float=_finite_float,
            )
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
