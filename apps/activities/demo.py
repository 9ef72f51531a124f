"""Demo activities for `make dev`."""


def seed_activities() -> None:
    """Activities around today (filled in with the calendar)."""
