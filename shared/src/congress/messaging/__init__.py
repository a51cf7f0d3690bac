"""The messaging kit: a store with a transactional outbox, the relay that publishes it, and
idempotent event subscribers. nameko appears only in `nameko_edge.py`; the rest is plain
SQLAlchemy and kombu."""
