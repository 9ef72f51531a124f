"""A bench-only tenant app whose migrations `bench/migrations.py` applies across every
organisation (settings: bench/settings_migrate.py). Never installed by the product."""
