"""Transaction helpers the services share."""

from __future__ import annotations

from sqlalchemy.orm import Session, SessionTransaction


def savepoint(session: Session) -> SessionTransaction:
    """``session.begin_nested()`` that is a savepoint on SQLite too.

    Python's sqlite3 module opens a transaction only before INSERT, UPDATE or DELETE, not
    before SAVEPOINT: a savepoint that is its transaction's first write would run outside
    any transaction, and releasing it would commit at once, so a later rollback could not
    take back what it wrote. Begin the transaction first (IMMEDIATE: take the write lock
    now, waiting for it under busy_timeout, as the module's own BEGIN does)."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        driver_connection = connection.connection.dbapi_connection
        if driver_connection is not None and not driver_connection.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
    return session.begin_nested()
