"""Database backend for running behind PgBouncer in transaction pooling mode.

Selected by `config.settings.base.database_config` when DATABASE_TRANSACTION_POOLING is true
(ENGINE "tenants.pooling"); the backend itself is in `base.py`, as Django expects.
"""
