"""Demo leads and web forms for `make dev`."""


def seed_leads() -> None:
    """Leads with campaigns and a web form (filled in with the leads pages)."""
