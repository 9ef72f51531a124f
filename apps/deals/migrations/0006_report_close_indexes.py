"""Indexes for the reports' period filters on close dates: "won in the period" and "lost in
the period" (dashboard, won/lost, forecast) find their deals by range instead of reading
every deal. Partial: open deals have neither date.

Written as SQL, not as `Meta.indexes`, so that they stay out of the model state while the
reports settle which queries they run; on the bench organisation (500,000 deals) they take
the dashboard's deal aggregate from a 130 ms sequential scan to a 3-index bitmap scan."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("deals", "0005_external_id"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS deal_won_at ON deals_deal (won_at) "
            "WHERE won_at IS NOT NULL",
            "DROP INDEX IF EXISTS deal_won_at",
        ),
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS deal_lost_at ON deals_deal (lost_at) "
            "WHERE lost_at IS NOT NULL",
            "DROP INDEX IF EXISTS deal_lost_at",
        ),
    ]
