"""The durable outbox of local writes, and the record of conflicts and their losers."""

from __future__ import annotations

import json
import time

from .interface import Database, Row
from .rows import Conflict, Json, OutboxOp, dumps, loads


class Outbox:
    """Pending writes per book, pushed oldest first, one chain per contact (href).

    A new write to a contact folds into its pending, unclaimed operation (create+update is
    still a create, update+delete a delete), so the remote sees one request per contact.
    An op being pushed, or one whose request may have been applied (its answer lost, or its
    pusher killed), is never rewritten: it is replayed as it was sent, and later writes
    queue behind it. Replaying an applied PATCH meets a 412 and merges to nothing left to send; a
    write queued behind a create is an update of the same contact, linked to its remote id
    once the create's outcome is known: a contact is created upstream once.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def enqueue(
        self,
        book_id: int,
        href: str,
        op: str,
        *,
        remote_id: str | None = None,
        base_etag: str | None = None,
        base_json: Json | None = None,
        local_json: Json | None = None,
    ) -> None:
        with self.db.transaction(book_id) as conn:
            pending = conn.execute(
                "SELECT * FROM outbox WHERE book_id = ? AND href = ? AND failed = 0"
                " AND claimed = 0 AND uncertain = 0 ORDER BY id DESC LIMIT 1",
                (book_id, href),
            ).fetchone()
            previous = OutboxOp.from_row(pending) if pending else None
            if previous is not None and self._fold(previous, op, local_json):
                return
            if op == "create" and self._chain_open(book_id, href):
                op = "update"  # its create is in flight or uncertain: never a second one
            conn.execute(
                "INSERT INTO outbox (book_id, href, op, remote_id, base_etag, base_json,"
                " local_json, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    book_id,
                    href,
                    op,
                    remote_id,
                    base_etag,
                    dumps(base_json),
                    dumps(local_json),
                    time.time(),
                ),
            )

    def _chain_open(self, book_id: int, href: str) -> bool:
        """Whether the contact's newest pending op leaves it existing (or about to) upstream:
        then what follows is an update, not a create."""
        latest = (
            self.db.connection()
            .execute(
                "SELECT op FROM outbox WHERE book_id = ? AND href = ? AND failed = 0"
                " ORDER BY id DESC LIMIT 1",
                (book_id, href),
            )
            .fetchone()
        )
        return latest is not None and latest["op"] != "delete"

    def _fold(self, previous: OutboxOp, op: str, local_json: Json | None) -> bool:
        """Merge ``op`` into ``previous``; False when both must be sent."""
        conn = self.db.connection()
        if op == "delete" and previous.op == "create":
            conn.execute("DELETE FROM outbox WHERE id = ?", (previous.id,))  # never reached Aurinko
            return True
        if op == "delete":
            conn.execute(
                "UPDATE outbox SET op = 'delete', local_json = NULL WHERE id = ?", (previous.id,)
            )
            return True
        if previous.op == "delete":
            return False  # delete then re-create under the same href: keep both, in order
        conn.execute(
            "UPDATE outbox SET local_json = ? WHERE id = ?", (dumps(local_json), previous.id)
        )
        return True

    def _select(self, where: str, *args: object, limit: int | None = None) -> list[OutboxOp]:
        # No LIMIT at all for "no limit": SQLite's LIMIT -1 is an error on PostgreSQL.
        sql = f"SELECT * FROM outbox WHERE {where} ORDER BY id"
        if limit is not None:
            sql, args = f"{sql} LIMIT ?", (*args, limit)
        rows = self.db.connection().execute(sql, args).fetchall()
        return [OutboxOp.from_row(r) for r in rows]

    def next(
        self, book_id: int, href: str | None = None, due: float | None = None
    ) -> OutboxOp | None:
        """The oldest pending op due by ``due`` (default: now), of the book or of one
        contact. Order matters per contact: an op waits behind an earlier one of its
        contact, due or not; ops of other contacts do not wait behind it."""
        due = time.time() if due is None else due
        is_due = (
            "book_id = ? AND failed = 0 AND not_before <= ? AND NOT EXISTS (SELECT 1 FROM"
            " outbox AS e WHERE e.book_id = outbox.book_id AND e.href = outbox.href"
            " AND e.failed = 0 AND e.id < outbox.id)"
        )
        if href is None:
            ops = self._select(is_due, book_id, due, limit=1)
        else:
            ops = self._select(f"{is_due} AND href = ?", book_id, due, href, limit=1)
        return ops[0] if ops else None

    def pending(self, book_id: int) -> list[OutboxOp]:
        return self._select("book_id = ? AND failed = 0", book_id)

    def pending_for(self, book_id: int, href: str) -> list[OutboxOp]:
        return self._select("book_id = ? AND href = ? AND failed = 0", book_id, href)

    def failed(self, book_id: int) -> list[OutboxOp]:
        return self._select("book_id = ? AND failed = 1", book_id)

    def count(self, book_id: int) -> int:
        row = (
            self.db.connection()
            .execute("SELECT COUNT(*) FROM outbox WHERE book_id = ? AND failed = 0", (book_id,))
            .fetchone()
        )
        return int(row[0])

    def claim_next(
        self, book_id: int, href: str | None = None, due: float | None = None
    ) -> OutboxOp | None:
        """Take the oldest pending op due by ``due`` (of the book, or of one contact) for
        pushing; an op put off during a push run comes due after its start.

        Choosing and claiming are one transaction: a write arriving between them would fold
        into an op whose older content is already on its way, and be lost.
        """
        with self.db.transaction(book_id):
            op = self.next(book_id, href, due)
            if op is None:
                return None
            self.db.connection().execute(
                "UPDATE outbox SET claimed = 1, attempts = attempts + 1 WHERE id = ?", (op.id,)
            )
            return op

    def release_claims(self, book_id: int) -> None:
        """Claims left by a pusher that died; only called while holding the book's sync lock.

        A claimed op may have reached Aurinko before the pusher died, so it becomes
        uncertain: a create is matched against the remote contacts before it is sent again,
        and none is folded into by later writes.
        """
        claimed = "SELECT 1 FROM outbox WHERE book_id = ? AND claimed = 1 LIMIT 1"
        if self.db.connection().execute(claimed, (book_id,)).fetchone() is None:
            return  # the usual case: no write transaction for nothing to do
        with self.db.transaction(book_id) as conn:
            conn.execute(
                "UPDATE outbox SET claimed = 0, uncertain = 1 WHERE book_id = ? AND claimed = 1",
                (book_id,),
            )

    def clear_uncertain(self, book_id: int, park_after: int) -> list[OutboxOp]:
        """After a pull found no trace of them, uncertain creates are safe to send again;
        those tried ``park_after`` times already are parked instead (returned): none of
        those tries reached Aurinko, and the next would fail as they did."""
        uncertain = "book_id = ? AND uncertain = 1 AND op = 'create' AND failed = 0"
        with self.db.transaction(book_id) as conn:
            parked = self._select(f"{uncertain} AND attempts >= ?", book_id, park_after)
            conn.execute(
                "UPDATE outbox SET failed = 1, uncertain = 0,"
                " last_error = 'gave up after ' || attempts || ' attempts: ' || last_error"
                f" WHERE {uncertain} AND attempts >= ?",
                (book_id, park_after),
            )
            conn.execute(f"UPDATE outbox SET uncertain = 0 WHERE {uncertain}", (book_id,))
        return parked

    def done(self, op: OutboxOp, remote_id: str | None, remote_etag: str | None) -> None:
        """Drop ``op`` and rebase later writes of the same contact, up to and including its
        next delete (what follows that is a new contact), on the remote's new version.

        Their base is what ``op`` asked for, not what Aurinko answered: a later write was
        made on the card as served then, so a field another device changed meanwhile is
        not one the user removed."""
        with self.db.transaction(op.book_id) as conn:
            conn.execute("DELETE FROM outbox WHERE id = ?", (op.id,))
            conn.execute("UPDATE books SET last_push = ? WHERE id = ?", (time.time(), op.book_id))
            later = "book_id = ? AND href = ? AND id > ?"
            key = (op.book_id, op.href, op.id)
            end = conn.execute(
                f"SELECT MIN(id) FROM outbox WHERE {later} AND op = 'delete'", key
            ).fetchone()[0]
            bound = end if end is not None else 2**62
            # The CAST gives the parameter a type: PostgreSQL cannot infer one from IS NULL.
            conn.execute(
                "UPDATE outbox SET remote_id = ?, base_etag = ?, base_json = ?,"
                " op = CASE WHEN op = 'create' AND CAST(? AS TEXT) IS NOT NULL THEN 'update'"
                " ELSE op END"
                f" WHERE {later} AND id <= ?",
                (remote_id, remote_etag, dumps(op.local_json), remote_id, *key, bound),
            )

    def mark_uncertain(self, op_id: int, error: str, delay: float = 0.0) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET uncertain = 1, claimed = 0, last_error = ?, not_before = ?"
                " WHERE id = ?",
                (error, time.time() + delay, op_id),
            )

    def defer(self, op_id: int, error: str, delay: float = 0.0) -> None:
        """Not now: keep the op, in place, and try it again in ``delay`` seconds."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET claimed = 0, last_error = ?, not_before = ? WHERE id = ?",
                (error, time.time() + delay, op_id),
            )

    def retry(self, op_id: int) -> bool:
        """A parked op goes back into the queue, as new; False if there is no such op."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE outbox SET failed = 0, attempts = 0, not_before = 0 WHERE id = ?",
                (op_id,),
            )
            return cursor.rowcount > 0

    def get(self, op_id: int) -> OutboxOp | None:
        ops = self._select("id = ?", op_id)
        return ops[0] if ops else None

    def fail(self, op_id: int, error: str) -> None:
        """The remote refused the write for good: park it where a user can see it."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET failed = 1, claimed = 0, last_error = ? WHERE id = ?",
                (error, op_id),
            )

    def replace(self, op_id: int, op: str, local_json: Json | None) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET op = ?, local_json = ?, remote_id = NULL, base_etag = NULL,"
                " base_json = NULL, uncertain = 0 WHERE id = ?",
                (op, dumps(local_json), op_id),
            )

    def drop(self, op_id: int) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM outbox WHERE id = ?", (op_id,))

    def deleting(self, book_id: int, remote_id: str) -> bool:
        """Whether a local delete of the remote contact ``remote_id`` waits to be pushed
        (a pull must not bring it back meanwhile)."""
        row = (
            self.db.connection()
            .execute(
                "SELECT 1 FROM outbox WHERE book_id = ? AND remote_id = ? AND op = 'delete'"
                " AND failed = 0 LIMIT 1",
                (book_id, remote_id),
            )
            .fetchone()
        )
        return row is not None

    def uncertain_creates(self, book_id: int) -> list[OutboxOp]:
        return self._select(
            "book_id = ? AND op = 'create' AND uncertain = 1 AND failed = 0", book_id
        )

    # -- conflicts ----------------------------------------------------------------------

    def record_conflict(
        self,
        book_id: int,
        href: str,
        outcome: str,
        fields: list[str],
        lost_json: Json | None,
        lost_vcard: str | None,
        path: str | None = None,
    ) -> int:
        with self.db.transaction(book_id) as conn:
            cursor = conn.execute(
                "INSERT INTO conflicts (book_id, href, outcome, fields, lost_json, lost_vcard,"
                " created, path) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    book_id,
                    href,
                    outcome,
                    json.dumps(fields),
                    dumps(lost_json),
                    lost_vcard,
                    time.time(),
                    path,
                ),
            )
            return int(cursor.fetchone()[0])

    def conflicts(self, book_id: int, *, unresolved: bool = False) -> list[Conflict]:
        """The book's conflicts, oldest first (with ``unresolved``: those nobody settled)."""
        where = "book_id = ?" + (" AND resolved IS NULL" if unresolved else "")
        rows = (
            self.db.connection()
            .execute(f"SELECT * FROM conflicts WHERE {where} ORDER BY id", (book_id,))
            .fetchall()
        )
        return [_conflict(row) for row in rows]

    def conflict(self, conflict_id: int) -> Conflict | None:
        row = (
            self.db.connection()
            .execute("SELECT * FROM conflicts WHERE id = ?", (conflict_id,))
            .fetchone()
        )
        return None if row is None else _conflict(row)

    def resolve_conflict(self, conflict_id: int) -> bool:
        """Mark a conflict settled; False if it was already (two clicks, two tabs)."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE conflicts SET resolved = ? WHERE id = ? AND resolved IS NULL",
                (time.time(), conflict_id),
            )
            return cursor.rowcount > 0


def _conflict(row: Row) -> Conflict:
    return Conflict(
        id=row["id"],
        book_id=row["book_id"],
        href=row["href"],
        outcome=row["outcome"],
        fields=json.loads(row["fields"]),
        lost_json=loads(row["lost_json"]),
        lost_vcard=row["lost_vcard"],
        created=row["created"],
        path=row["path"],
        resolved=row["resolved"],
    )
