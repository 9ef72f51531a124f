"""Demo pipelines and deals for `make dev`."""


def seed_deals() -> None:
    """Pipelines, stages and deals across every stage (filled in with the deals board)."""
